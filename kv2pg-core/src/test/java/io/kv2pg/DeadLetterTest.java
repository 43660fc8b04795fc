package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * {@link OnDataError#DEAD_LETTER}: a value the mapping cannot read, a value that breaks a CHECK
 * constraint and a child whose deferred foreign key has no parent, all in one write batch with
 * good changes, are set aside while everything else is applied; a later clean change resolves a
 * dead letter; {@link Replication#retryDeadLetters()} after the fix applies the rest. The same
 * during the initial copy.
 */
class DeadLetterTest {
  private static final Duration WAIT = Duration.ofSeconds(120);
  private static final String NAME = "dead-letters";
  private static final long UNREADABLE = 11;
  private static final long NEGATIVE = 12;
  private static final long ORPHAN = 13;
  private static final long MISSING_PARENT = 999;

  @TempDir Path dir;

  @Test
  void badChangesOfABatchAreSetAsideAndTheRestIsApplied() throws Exception {
    String url = TestPostgres.newDatabase();
    createTables(url);
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    try (LogCapture log = new LogCapture(); TestStore store = TestStore.open(dir, "parents", "children")) {
      ColumnFamilyHandle parents = store.family("parents");
      ColumnFamilyHandle children = store.family("children");
      Replication strict = replication(url, store, false, registry);
      try (RunningReplication running = strict.start()) {
        Await.caughtUp(running, WAIT, "the empty copy");
        try (WriteBatch batch = new WriteBatch(); WriteOptions options = new WriteOptions()) {
          for (long id = 1; id <= 10; id++) {
            batch.put(parents, key(id), longValue(1));
            batch.put(children, key(id), child(id, 1));
          }
          batch.put(children, key(UNREADABLE), new byte[] {1, 2, 3});
          batch.put(children, key(NEGATIVE), child(1, -5));
          batch.put(children, key(ORPHAN), child(MISSING_PARENT, 1));
          store.db.write(options, batch);
        }
        for (long round = 2; round <= 4; round++) {
          for (long id = 1; id <= 10; id++) {
            store.db.put(children, key(id), child(id, round));
          }
        }
        Await.caughtUp(running, WAIT, "past the bad changes");
        ReplicationStatus status = running.status();
        assertThat(status.failure()).isEmpty();
        assertThat(status.deadLetters()).isEqualTo(3);
        assertThat(registry.get("kv2pg.dead.letters").counter().count()).isEqualTo(3);

        assertThat(ReplicationRecords.of(url).read(NAME)).hasValueSatisfying(
            record -> assertThat(record.deadLetters()).isEqualTo(3));
        List<DeadLetter> letters = ReplicationRecords.of(url).deadLetters(NAME);
        assertThat(letters).extracting(letter -> ByteBuffer.wrap(letter.key()).getLong())
            .containsExactly(UNREADABLE, NEGATIVE, ORPHAN);
        assertThat(letters).allSatisfy(letter -> assertThat(letter.mapping()).isEqualTo("children"));
        assertThat(letters.get(0).sqlState()).isEmpty();
        assertThat(letters.get(0).error()).contains("the mapping failed");
        assertThat(letters.get(1).sqlState()).hasValue("23514");
        assertThat(letters.get(2).sqlState()).hasValue("23503");
        assertThat(letters.get(0).value()).hasValueSatisfying(v -> assertThat(v).containsExactly(1, 2, 3));
        assertThat(children(url)).isEqualTo(without(storeChildren(store), UNREADABLE, NEGATIVE, ORPHAN));
        assertThat(parents(url)).isEqualTo(storeParents(store));
        assertThat(log.text()).contains("dead letter: the value of key " + HexFormat.of().formatHex(key(ORPHAN)));

        // A later clean change of the key resolves its dead letter in its own transaction.
        store.db.put(children, key(NEGATIVE), child(2, 7));
        // The orphan's parent arrives; the orphan itself is not written again.
        store.db.put(parents, key(MISSING_PARENT), longValue(1));
        Await.caughtUp(running, WAIT, "the fixes in the store");
        assertThat(ReplicationRecords.of(url).deadLetters(NAME)).extracting(DeadLetter::keyHex)
            .containsExactly(HexFormat.of().formatHex(key(UNREADABLE)), HexFormat.of().formatHex(key(ORPHAN)));
        assertThat(children(url)).isEqualTo(without(storeChildren(store), UNREADABLE, ORPHAN));
      }

      // The strict mapping still cannot read the value: retried, it stays, with the orphan applied.
      DeadLetterRetry first = strict.retryDeadLetters();
      assertThat(first.retried()).isEqualTo(1);
      assertThat(first.remaining()).extracting(DeadLetter::keyHex)
          .containsExactly(HexFormat.of().formatHex(key(UNREADABLE)));
      // With the mapping fixed, the last one applies.
      DeadLetterRetry second = replication(url, store, true, null).retryDeadLetters();
      assertThat(second.retried()).isEqualTo(1);
      assertThat(second.isClean()).isTrue();
      assertThat(ReplicationRecords.of(url).deadLetters(NAME)).isEmpty();
      assertThat(children(url)).isEqualTo(storeChildren(store, true));
      assertThat(parents(url)).isEqualTo(storeParents(store));
    }
  }

  @Test
  void badValuesOfTheSnapshotAreSetAsideDuringTheCopy() throws Exception {
    String url = TestPostgres.newDatabase();
    createTables(url);
    try (TestStore store = TestStore.open(dir, "parents", "children")) {
      ColumnFamilyHandle parents = store.family("parents");
      ColumnFamilyHandle children = store.family("children");
      for (long id = 1; id <= 40; id++) {
        store.db.put(parents, key(id), longValue(1));
        store.db.put(children, key(id), child(id, 1));
      }
      store.db.put(children, key(UNREADABLE), new byte[] {9});
      store.db.put(children, key(NEGATIVE), child(1, -1));
      store.db.put(children, key(ORPHAN), child(MISSING_PARENT, 1));
      Replication strict = replication(url, store, false, null);
      try (RunningReplication running = strict.start()) {
        Await.caughtUp(running, WAIT, "the copy");
        assertThat(running.status().deadLetters()).isEqualTo(3);
        assertThat(running.status().failure()).isEmpty();
      }
      assertThat(ReplicationRecords.of(url).deadLetters(NAME)).hasSize(3);
      assertThat(children(url)).isEqualTo(without(storeChildren(store), UNREADABLE, NEGATIVE, ORPHAN));

      store.db.put(children, key(NEGATIVE), child(1, 3));
      store.db.put(parents, key(MISSING_PARENT), longValue(1));
      try (RunningReplication running = strict.start()) {
        Await.caughtUp(running, WAIT, "the fixes");
      }
      DeadLetterRetry retry = replication(url, store, true, null).retryDeadLetters();
      assertThat(retry.isClean()).as("%s", retry).isTrue();
      assertThat(children(url)).isEqualTo(storeChildren(store, true));
    }
  }

  @Test
  void badValuesAreSetAsideDuringAReCopyInOneTransaction() throws Exception {
    String url = TestPostgres.newDatabase();
    createTables(url);
    try (TestStore store = TestStore.open(dir, "parents", "children")) {
      ColumnFamilyHandle parents = store.family("parents");
      ColumnFamilyHandle children = store.family("children");
      for (long id = 1; id <= 20; id++) {
        store.db.put(parents, key(id), longValue(1));
        store.db.put(children, key(id), child(id, 1));
      }
      store.db.put(children, key(UNREADABLE), new byte[] {9});
      try (RunningReplication running = replication(url, store, true, null).start()) {
        Await.caughtUp(running, WAIT, "the lenient copy");
      }
      assertThat(children(url)).containsKey(UNREADABLE);
      store.db.delete(children, key(5)); // A stale row the re-copy must remove.
      try (RunningReplication running = replication(url, store, false, null, true).start()) {
        Await.caughtUp(running, WAIT, "the strict re-copy");
        assertThat(running.status().failure()).isEmpty();
        assertThat(running.status().deadLetters()).isEqualTo(1);
      }
      assertThat(ReplicationRecords.of(url).deadLetters(NAME)).extracting(DeadLetter::keyHex)
          .containsExactly(HexFormat.of().formatHex(key(UNREADABLE)));
      // The re-copy cleared the table, so the unreadable key has no row, as the strict mapping reads the store.
      assertThat(children(url)).isEqualTo(without(storeChildren(store), UNREADABLE));
    }
  }

  @Test
  void retryingRefusesWhileRunningOrBehind() throws Exception {
    String url = TestPostgres.newDatabase();
    createTables(url);
    try (TestStore store = TestStore.open(dir, "parents", "children")) {
      ColumnFamilyHandle children = store.family("children");
      store.db.put(children, key(UNREADABLE), new byte[] {1});
      Replication strict = replication(url, store, false, null);
      try (RunningReplication running = strict.start()) {
        Await.caughtUp(running, WAIT, "the copy");
        assertThatThrownBy(strict::retryDeadLetters).isInstanceOf(IllegalStateException.class)
            .hasMessageContaining("running").hasMessageContaining("nothing was retried");
      }
      store.db.put(children, key(1), child(1, 1));
      assertThatThrownBy(strict::retryDeadLetters).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("Run the replication until it has caught up");
      assertThat(ReplicationRecords.of(url).deadLetters(NAME)).hasSize(1);
    }
  }

  /** Children reference parents through a deferred foreign key; versions only go up. */
  private static void createTables(String url) {
    TestPostgres.execute(url, """
        create table parent (id bigint primary key, version bigint not null);
        create table child (id bigint primary key,
          parent_id bigint not null references parent (id) deferrable initially deferred,
          version bigint not null check (version >= 0));
        create function versions_increase() returns trigger language plpgsql as $$
        begin
          if new.version <= old.version then
            raise exception 'double apply: % version % after %', new.id, new.version, old.version;
          end if;
          return new;
        end $$;
        create trigger versions before update on parent for each row execute function versions_increase();
        create trigger versions before update on child for each row execute function versions_increase();
        """);
  }

  /** The children's value is a parent id and a version (16 bytes); the lenient mapping reads a short one as version 0 of parent 1. */
  private static Replication replication(String url, TestStore store, boolean lenient,
      SimpleMeterRegistry registry) {
    return replication(url, store, lenient, registry, false);
  }

  /** With {@code changed}, the children's statement differs (a re-copy) and says how to clear its rows. */
  private static Replication replication(String url, TestStore store, boolean lenient,
      SimpleMeterRegistry registry, boolean changed) {
    TreeMapping.Builder children = TreeMapping.builder(store.family("children")).name("children")
        .insert("insert into child (id, parent_id, version) values ($1, $2, $3)"
                + " on conflict (id) do update set parent_id = excluded.parent_id, version = excluded.version"
                + (changed ? " -- changed" : ""),
            (key, value) -> {
              long[] child = readChild(value, lenient);
              return Params.of(ByteBuffer.wrap(key).getLong(), child[0], child[1]);
            })
        .remove("delete from child where id = $1", key -> Params.of(ByteBuffer.wrap(key).getLong()));
    if (changed) {
      children.clear("delete from child");
    }
    Replication.Builder builder = Replication.builder().postgres(url).source(store.db).name(NAME)
        .onDataError(OnDataError.DEAD_LETTER)
        .tree(TreeMapping.builder(store.family("parents")).name("parents")
            .insert("insert into parent (id, version) values ($1, $2)"
                    + " on conflict (id) do update set version = excluded.version",
                (key, value) -> Params.of(ByteBuffer.wrap(key).getLong(), ByteBuffer.wrap(value).getLong()))
            .remove("delete from parent where id = $1", key -> Params.of(ByteBuffer.wrap(key).getLong()))
            .build())
        .tree(children.build());
    if (registry != null) {
      builder.meterRegistry(registry);
    }
    return builder.build();
  }

  private static long[] readChild(byte[] value, boolean lenient) {
    if (value.length != 16) {
      if (!lenient) {
        throw new IllegalArgumentException("a child's value has 16 bytes, not " + value.length);
      }
      return new long[] {1, 0};
    }
    ByteBuffer buffer = ByteBuffer.wrap(value);
    return new long[] {buffer.getLong(), buffer.getLong()};
  }

  private static byte[] key(long id) {
    return ByteBuffer.allocate(8).putLong(id).array();
  }

  private static byte[] longValue(long version) {
    return ByteBuffer.allocate(8).putLong(version).array();
  }

  private static byte[] child(long parent, long version) {
    return ByteBuffer.allocate(16).putLong(parent).putLong(version).array();
  }

  private static Map<Long, List<Long>> storeChildren(TestStore store) {
    return storeChildren(store, false);
  }

  private static Map<Long, List<Long>> storeChildren(TestStore store, boolean lenient) {
    Map<Long, List<Long>> rows = new TreeMap<>();
    try (RocksIterator it = store.db.newIterator(store.family("children"))) {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        byte[] value = it.value();
        if (value.length == 16 || lenient) {
          long[] child = readChild(value, true);
          rows.put(ByteBuffer.wrap(it.key()).getLong(), List.of(child[0], child[1]));
        }
      }
    }
    return rows;
  }

  private static Map<Long, Long> storeParents(TestStore store) {
    Map<Long, Long> rows = new TreeMap<>();
    try (RocksIterator it = store.db.newIterator(store.family("parents"))) {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        rows.put(ByteBuffer.wrap(it.key()).getLong(), ByteBuffer.wrap(it.value()).getLong());
      }
    }
    return rows;
  }

  private static Map<Long, List<Long>> without(Map<Long, List<Long>> rows, long... ids) {
    Map<Long, List<Long>> kept = new TreeMap<>(rows);
    for (long id : ids) {
      kept.remove(id);
    }
    return kept;
  }

  private static Map<Long, List<Long>> children(String url) {
    Map<Long, List<Long>> rows = new TreeMap<>();
    for (List<Object> row : TestPostgres.query(url, "select id, parent_id, version from child order by id")) {
      rows.put((Long) row.get(0), List.of((Long) row.get(1), (Long) row.get(2)));
    }
    return rows;
  }

  private static Map<Long, Long> parents(String url) {
    Map<Long, Long> rows = new TreeMap<>();
    for (List<Object> row : TestPostgres.query(url, "select id, version from parent order by id")) {
      rows.put((Long) row.get(0), (Long) row.get(1));
    }
    return rows;
  }

}
