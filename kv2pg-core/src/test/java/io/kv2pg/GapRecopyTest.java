package io.kv2pg;

import static io.kv2pg.ErrorHandlingTest.i32;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.FlushOptions;
import org.rocksdb.LogFile;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The gap policy: with {@link OnGap#RECOPY}, a gap in the write-ahead log (purged while stopped,
 * {@code disableWAL} writes) re-copies every mapping and the stream goes on; with {@link
 * OnGap#FAIL}, the error names the range and says how to reset, and a reset recovers.
 */
class GapRecopyTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String TREE = "items";
  private static final String NAME = "gaps";
  @TempDir Path dir;

  /** Versions rise with every write; the table's trigger refuses an update that does not raise one. */
  private int version = 1;

  private static final String CREATE = """
      create table if not exists items (key int primary key, value int not null);
      create or replace function items_versions() returns trigger language plpgsql as $$
      begin
        if new.value <= old.value then
          raise exception 'double apply: key % value % after %', new.key, new.value, old.value;
        end if;
        return new;
      end $$;
      create or replace trigger items_versions before update on items for each row execute function items_versions()
      """;

  private static TreeMapping items(TreeMapping.Builder tree) {
    return tree.name("items").createCommands(CREATE)
        .insert("insert into items (key, value) values ($1, $2) on conflict (key) do update set value = excluded.value",
            (key, value) -> Params.of(i32(key), i32(value)))
        .remove("delete from items where key = $1", key -> Params.of(i32(key)))
        .clear("delete from items")
        .build();
  }

  private static TreeMapping declared(TreeMapping.Builder tree) {
    return tree.name("declared").table("declared")
        .keyColumn("key", Decoders.int32()).valueColumn("value", Decoders.int32()).build();
  }

  private static Replication replication(String url, TestStore store, OnGap onGap) {
    return Replication.builder().postgres(url).source(store.db).name(NAME).onGap(onGap)
        .tree(items(TreeMapping.builder(store.family(TREE)))).tree(declared(TreeMapping.builder(store.family("other"))))
        .build();
  }

  /** The same mappings, on the store in {@code storeDir} followed from outside. */
  private static Replication followed(String url, Path storeDir, OnGap onGap) {
    return Replication.builder().postgres(url).follow(storeDir).name(NAME).onGap(onGap)
        .tree(items(TreeMapping.builder(TREE))).tree(declared(TreeMapping.builder("other"))).build();
  }

  private void write(TestStore store, int from, int to) throws RocksDBException {
    for (int key = from; key < to; key++) {
      store.db.put(store.family(TREE), i32(key), i32(version++));
      store.db.put(store.family("other"), i32(key), i32(version++));
    }
  }

  private static void assertTablesEqualStore(String url, TestStore store) {
    assertThat(TestPostgres.query(url, "select key, value from items order by key"))
        .isEqualTo(ErrorHandlingTest.rowsOf(store.entries(TREE, new byte[0])));
    assertThat(TestPostgres.query(url, "select key, value from declared order by kv_key"))
        .isEqualTo(ErrorHandlingTest.rowsOf(store.entries("other", new byte[0])));
  }

  /** Writes without the WAL: a gap of two sequence numbers; returns the first. */
  private long writeWithoutWal(TestStore store, int key) throws RocksDBException {
    long first = store.db.getLatestSequenceNumber() + 1;
    try (WriteBatch batch = new WriteBatch(); WriteOptions options = new WriteOptions().setDisableWAL(true)) {
      batch.put(store.family(TREE), i32(key), i32(version++));
      batch.delete(store.family("other"), i32(key));
      store.db.write(options, batch);
    }
    return first;
  }

  @Test
  void aFollowedStoreWhoseWalWasPurgedWhileStoppedIsCopiedAgain() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.openWithWalTtl(dir, 1, TREE, "other")) {
      write(store, 0, 200);
      try (RunningReplication running = followed(url, dir, OnGap.RECOPY).start()) {
        Await.caughtUp(running, WAIT, "first copy");
      }
      long applied = store.db.getLatestSequenceNumber();
      write(store, 200, 250);
      for (int key = 0; key < 30; key++) {
        store.db.delete(store.family(TREE), i32(key));
      }
      purgeWalThrough(store, applied + 10);

      try (RunningReplication running = followed(url, dir, OnGap.RECOPY).start()) {
        Await.caughtUp(running, WAIT, "re-copy after the gap");
        assertTablesEqualStore(url, store);
        assertThat(running.status().gapsRecopied()).isEqualTo(1);
        write(store, 250, 260);
        Await.caughtUp(running, WAIT, "stream after the re-copy");
        assertThat(running.status().failure()).isEmpty();
        assertTablesEqualStore(url, store);
      }
    }
  }

  /** Flushes until RocksDB has purged every WAL file holding {@code sequence} (the store keeps them 1 s). */
  private static void purgeWalThrough(TestStore store, long sequence) {
    Await.condition(WAIT, "the WAL through sequence " + sequence + " is purged", () -> {
      try (FlushOptions flush = new FlushOptions().setWaitForFlush(true)) {
        store.db.put(i32(-1), i32(0)); // the default family, which no mapping reads
        store.db.flush(flush, List.of(store.family(TREE), store.family("other"), store.db.getDefaultColumnFamily()));
        List<LogFile> files = store.db.getSortedWalFiles();
        return !files.isEmpty() && files.get(0).startSequence() > sequence + 1;
      } catch (RocksDBException e) {
        throw new IllegalStateException(e);
      }
    });
  }

  @Test
  void aWalPurgedWhileStoppedIsRecopiedAndTheStreamGoesOn() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.openWithWalTtl(dir, 1, TREE, "other")) {
      write(store, 0, 200);
      try (RunningReplication running = replication(url, store, OnGap.RECOPY).start()) {
        Await.caughtUp(running, WAIT, "first copy");
      }
      long applied = store.db.getLatestSequenceNumber();
      write(store, 200, 250);
      for (int key = 0; key < 30; key++) {
        store.db.delete(store.family(TREE), i32(key));
        store.db.delete(store.family("other"), i32(key));
      }
      purgeWalThrough(store, applied + 10);

      try (RunningReplication running = replication(url, store, OnGap.RECOPY).start()) {
        Await.caughtUp(running, WAIT, "re-copy after the gap");
        assertTablesEqualStore(url, store);
        assertThat(running.status().gapsRecopied()).isEqualTo(1);
        write(store, 250, 260);
        Await.caughtUp(running, WAIT, "stream after the re-copy");
        assertThat(running.status().failure()).isEmpty();
      }
      assertTablesEqualStore(url, store);
      assertThat(ReplicationRecords.of(url).list()).singleElement()
          .satisfies(record -> assertThat(record.gapsRecopied()).isEqualTo(1));
      assertThat(TestPostgres.query(url, "select gaps_recopied, last_gap like 'sequences " + (applied + 1)
          + " to %' from kv2pg.replication where name = '" + NAME + "'")).containsExactly(List.of(1L, true));
    }
  }

  @Test
  void aDisableWalWriteWhileStreamingIsRecopied() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, TREE, "other")) {
      write(store, 0, 100);
      try (RunningReplication running = replication(url, store, OnGap.RECOPY).start()) {
        Await.caughtUp(running, WAIT, "first copy");
        writeWithoutWal(store, 5);
        write(store, 100, 120);
        Await.status(running, WAIT, "the gap re-copied", status -> status.gapsRecopied() == 1);
        Await.caughtUp(running, WAIT, "re-copy after the gap");
        assertTablesEqualStore(url, store);
        write(store, 120, 130);
        Await.caughtUp(running, WAIT, "stream after the re-copy");
        assertTablesEqualStore(url, store);
        assertThat(running.status().failure()).isEmpty();
      }
    }
  }

  @Test
  void withFailTheErrorNamesTheRangeAndSaysToResetAndResetRecovers() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, TREE, "other")) {
      write(store, 0, 50);
      try (RunningReplication running = replication(url, store, OnGap.FAIL).start()) {
        Await.caughtUp(running, WAIT, "first copy");
      }
      store.db.delete(store.family("other"), i32(1));
      long first = writeWithoutWal(store, 2);
      write(store, 50, 60);
      try (RunningReplication running = replication(url, store, OnGap.FAIL).start()) {
        ReplicationException failure = Await.failure(running, WAIT);
        assertThat(failure).isInstanceOf(SequenceGapException.class);
        assertThat(failure.getMessage()).contains(first + " to " + (first + 1), "kv2pg reset",
            "ReplicationRecords.reset(", "OnGap.RECOPY");
      }
      assertThat(ReplicationRecords.of(url).reset(NAME)).isTrue();
      assertThat(ReplicationRecords.of(url).read(NAME).orElseThrow().appliedSequence()).isEmpty();
      try (RunningReplication running = replication(url, store, OnGap.FAIL).start()) {
        Await.caughtUp(running, WAIT, "copy after reset");
        assertTablesEqualStore(url, store);
        write(store, 60, 70);
        Await.caughtUp(running, WAIT, "stream after reset");
      }
      assertTablesEqualStore(url, store);
    }
  }
}
