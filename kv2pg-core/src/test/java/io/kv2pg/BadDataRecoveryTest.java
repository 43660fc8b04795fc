package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * Both ways out of a value the mapping cannot read: fixing the data (the key rewritten or deleted
 * in the store) and fixing the mapping. The bad put stays in the WAL after the checkpoint, with many
 * changes after it, so a restart meets it again in a transaction of its own.
 */
class BadDataRecoveryTest {
  private static final Duration WAIT = Duration.ofSeconds(120);
  private static final long BAD_KEY = 5;
  private static final int LATER_BATCHES = 60;
  private static final int KEYS_PER_BATCH = 1000;
  private static final byte[] UNREADABLE = {1, 2, 3};

  @TempDir Path dir;

  @Test
  void rewritingTheBadKeyInTheStoreLetsTheRestartPassOverTheBadVersion() throws Exception {
    assertFixedByTheData(false);
  }

  @Test
  void deletingTheBadKeyInTheStoreLetsTheRestartPassOverTheBadVersion() throws Exception {
    assertFixedByTheData(true);
  }

  private void assertFixedByTheData(boolean delete) throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      Replication replication = declared(url, store, cf);
      long badSequence = failOnABadValue(replication, store, cf);

      // Still unreadable: the restart fails again, on the same key and sequence.
      writeLaterBatches(store, cf);
      try (RunningReplication running = replication.start()) {
        ReplicationException again = Await.failure(running, WAIT);
        assertThat(again.keyHex()).contains(HexFormat.of().formatHex(key(BAD_KEY)));
        assertThat(again.sequence()).hasValue(badSequence);
      }

      if (delete) {
        store.db.delete(cf, key(BAD_KEY));
      } else {
        store.db.put(cf, key(BAD_KEY), value(7));
      }
      writeLaterBatches(store, cf);
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, WAIT, "after the bad key was fixed in the store");
        assertThat(running.status().failure()).isEmpty();
      }
      assertThat(rows(url)).containsExactlyElementsOf(storeRows(store, cf));
      assertThat(TestPostgres.query(url, "select version from t where id = " + BAD_KEY))
          .isEqualTo(delete ? List.of() : List.of(List.of(7L)));
    }
  }

  @Test
  void fixingTheMappingResumesWithTheBadValueReadTheNewWay() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      failOnABadValue(declared(url, store, cf), store, cf);
      writeLaterBatches(store, cf);
      // A changed mapping is copied again, which rewrites equal versions; lower ones stay refused.
      TestPostgres.execute(url, "create or replace function versions_increase() returns trigger language plpgsql"
          + " as $$ begin if new.version < old.version and new.version >= 0 then raise exception 'lower version';"
          + " end if; return new; end $$");

      Replication lenient = Replication.builder().postgres(url).source(store.db).name("bad-data")
          .tree(TreeMapping.builder(cf)
              .insert("insert into t (kv_key, id, version) values ($1, $2, $3)"
                      + " on conflict (id) do update set version = excluded.version",
                  (key, value) -> Params.of(key, ByteBuffer.wrap(key).getLong(),
                      value.length == Long.BYTES ? ByteBuffer.wrap(value).getLong() : -1L))
              .remove("delete from t where kv_key = $1", key -> Params.of(key))
              .clear("delete from t") // copied again into a table that holds its rows: replaced whole
              .build())
          .build();
      try (RunningReplication running = lenient.start()) {
        Await.caughtUp(running, WAIT, "after the mapping was fixed");
      }
      assertThat(rows(url)).containsExactlyElementsOf(storeRows(store, cf));
      assertThat(TestPostgres.query(url, "select version from t where id = " + BAD_KEY))
          .isEqualTo(List.of(List.of(-1L)));
    }
  }

  /** Replicates a few keys, then a value too short for its column; returns its sequence number. */
  private static long failOnABadValue(Replication replication, TestStore store, ColumnFamilyHandle cf)
      throws Exception {
    for (long id = 0; id < 10; id++) {
      store.db.put(cf, key(id), value(1));
    }
    try (RunningReplication running = replication.start()) {
      Await.caughtUp(running, WAIT, "the good keys");
      store.db.put(cf, key(BAD_KEY), UNREADABLE);
      long badSequence = store.db.getLatestSequenceNumber();
      ReplicationException failure = Await.failure(running, WAIT);
      assertThat(failure.kind()).isEqualTo(ReplicationException.Kind.DATA);
      assertThat(failure.getMessage())
          .contains("failed on key " + HexFormat.of().formatHex(key(BAD_KEY)) + " at sequence " + badSequence)
          .contains("fix the mapping")
          .contains("rewrite or delete this key in the store, and the version that failed is passed over");
      return badSequence;
    }
  }

  private static Replication declared(String url, TestStore store, ColumnFamilyHandle cf) {
    TestPostgres.execute(url, """
        create table if not exists t (kv_key bytea not null unique, id bigint primary key, version bigint not null);
        create or replace function versions_increase() returns trigger language plpgsql as $$
        begin
          if new.version <= old.version and new.version >= 0 then
            raise exception 'double apply: key % version % after %', new.id, new.version, old.version;
          end if;
          return new;
        end $$;
        create or replace trigger versions before update on t
          for each row execute function versions_increase();
        """);
    return Replication.builder().postgres(url).source(store.db).name("bad-data")
        .tree(TreeMapping.builder(cf).table("t")
            .keyColumn("id", Decoders.int64())
            .valueColumn("version", Decoders.int64())
            .build())
        .build();
  }

  /** Many changes after the bad one, each key written with a higher version than before. */
  private static void writeLaterBatches(TestStore store, ColumnFamilyHandle cf) throws Exception {
    long version = store.db.getLatestSequenceNumber();
    for (int b = 0; b < LATER_BATCHES; b++) {
      try (WriteBatch batch = new WriteBatch(); WriteOptions options = new WriteOptions()) {
        for (long id = 100; id < 100 + KEYS_PER_BATCH; id++) {
          batch.put(cf, key(id), value(version + b));
        }
        store.db.write(options, batch);
      }
    }
  }

  private static byte[] key(long id) {
    return ByteBuffer.allocate(8).putLong(id).array();
  }

  private static byte[] value(long version) {
    return ByteBuffer.allocate(8).putLong(version).array();
  }

  /** The store's entries as rows; an unreadable value reads as version -1, as the lenient mapping reads it. */
  private static List<List<Object>> storeRows(TestStore store, ColumnFamilyHandle cf) {
    List<List<Object>> rows = new ArrayList<>();
    try (RocksIterator it = store.db.newIterator(cf)) {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        byte[] value = it.value();
        rows.add(List.of(ByteBuffer.wrap(it.key()).getLong(),
            value.length == Long.BYTES ? ByteBuffer.wrap(value).getLong() : -1L));
      }
    }
    return rows;
  }

  private static List<List<Object>> rows(String url) {
    return TestPostgres.query(url, "select id, version from t order by id");
  }
}
