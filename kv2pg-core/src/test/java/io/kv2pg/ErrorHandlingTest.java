package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.Transaction;
import org.rocksdb.TransactionDB;
import org.rocksdb.TransactionDBOptions;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * What happens when things go wrong: bad data, failing parameter functions, a store that deletes
 * its log, writes kv2pg cannot read, and Postgres errors that go away by themselves.
 */
class ErrorHandlingTest {
  static final Duration WAIT = Duration.ofSeconds(60);
  static final String TREE = "items";
  static final String CREATE =
      "create table if not exists items (key integer primary key, value integer not null"
          + " constraint value_below_1000 check (value < 1000))";

  @TempDir Path dir;

  // ------------------------------------------------------------------ failures caused by the data

  @Test
  void parameterFunctionThrowingOnOneKeyFailsNamingItAndCommitsOnlyWhatCameBefore() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, TREE)) {
      ColumnFamilyHandle tree = store.family(TREE);
      store.db.put(tree, i32(1), i32(10)); // copied

      try (RunningReplication running = replication(url, store, mappingRejecting(tree, 3)).start()) {
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        // Separate write batches, not awaited one by one: they may reach Postgres in one group.
        store.db.put(tree, i32(2), i32(20));
        long beforeBad = store.db.getLatestSequenceNumber();
        store.db.put(tree, i32(3), i32(30)); // the parameter function throws on key 3
        long bad = store.db.getLatestSequenceNumber();
        store.db.put(tree, i32(4), i32(40));
        store.db.delete(tree, i32(1));
        store.db.put(tree, i32(2), i32(21));

        ReplicationException failure = Await.failure(running, WAIT);
        assertThat(running.awaitCaughtUp(Duration.ZERO)).isFalse();
        assertThat(failure.mapping()).contains(TREE);
        assertThat(failure.tree()).contains(TREE);
        assertThat(failure.keyHex()).contains("00000003");
        assertThat(failure.key()).hasValueSatisfying(key -> assertThat(key).isEqualTo(i32(3)));
        assertThat(failure.sequence()).hasValue(bad);
        assertThat(failure.getMessage())
            .contains("'" + TREE + "'", "00000003", String.valueOf(bad), "no parameters for key 3");
        assertThat(failure).hasRootCauseInstanceOf(IllegalArgumentException.class);

        // Everything before the bad write, nothing from it on.
        assertThat(rows(url)).containsExactly(List.of(1, 10), List.of(2, 20));
        assertThat(checkpoint(url, "default")).containsExactly(beforeBad, failure.getMessage());
        assertThat(running.status().appliedSequence()).isEqualTo(beforeBad);
      }

      // Restart with the function fixed: resumes after the last commit and catches up exactly.
      assertThat(restartCaughtUp(url, store, tree)).containsExactly(
          List.of(2, 21), List.of(3, 30), List.of(4, 40));
    }
  }

  @Test
  void constraintViolationFailsNamingTheKeyAndCommitsOnlyWhatCameBefore() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, TREE)) {
      ColumnFamilyHandle tree = store.family(TREE);
      try (RunningReplication running = startCaughtUp(url, store, tree)) {
        store.db.put(tree, i32(2), i32(20));
        store.db.put(tree, i32(1), i32(11));
        long beforeBad = store.db.getLatestSequenceNumber();
        store.db.put(tree, i32(0x0102), i32(5000)); // violates check (value < 1000)
        long bad = store.db.getLatestSequenceNumber();
        store.db.put(tree, i32(4), i32(40));
        store.db.delete(tree, i32(2));

        ReplicationException failure = Await.failure(running, WAIT);
        assertThat(failure.mapping()).contains(TREE);
        assertThat(failure.keyHex()).contains("00000102");
        assertThat(failure.sequence()).hasValue(bad);
        assertThat(failure.getMessage())
            .contains("'" + TREE + "'", "00000102", String.valueOf(bad), "23514", "value_below_1000");
        assertThat(failure.getCause()).isInstanceOf(SQLException.class);

        assertThat(rows(url)).containsExactly(List.of(1, 11), List.of(2, 20));
        assertThat(checkpoint(url, "default")).containsExactly(beforeBad, failure.getMessage());
      }

      // Fix the table, restart: resumes after the last commit.
      TestPostgres.execute(url, "alter table items drop constraint value_below_1000");
      assertThat(restartCaughtUp(url, store, tree)).containsExactly(
          List.of(1, 11), List.of(4, 40), List.of(0x0102, 5000));
    }
  }

  @Test
  void badRowInTheInitialCopyFailsNamingTheKeyAndTheCopyResumesOnceFixed() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, TREE)) {
      ColumnFamilyHandle tree = store.family(TREE);
      for (int key = 1; key <= 20; key++) {
        store.db.put(tree, i32(key), i32(key == 13 ? 2000 : key * 10)); // key 13 breaks the check
      }
      long snapshot = store.db.getLatestSequenceNumber();
      try (RunningReplication running = replication(url, store, mapping(tree)).start()) {
        ReplicationException failure = Await.failure(running, WAIT);
        assertThat(failure.mapping()).contains(TREE);
        assertThat(failure.keyHex()).contains("0000000d");
        assertThat(failure.sequence()).hasValue(snapshot);
        assertThat(failure.getMessage()).contains("'" + TREE + "'", "0000000d", "23514");
        assertCopiedOnlyBefore(url, store, 13, failure);
      }

      TestPostgres.execute(url, "alter table items drop constraint value_below_1000");
      try (RunningReplication running = replication(url, store, mapping(tree)).start()) {
        store.db.put(tree, i32(21), i32(210));
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertThat(rows(url)).isEqualTo(storeRows(store)).hasSize(21);
        assertHealthy(running, url, "default", store);
      }
    }
  }

  @Test
  void parameterFunctionThrowingInTheInitialCopyNamesTheKey() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, TREE)) {
      ColumnFamilyHandle tree = store.family(TREE);
      for (int key = 1; key <= 5; key++) {
        store.db.put(tree, i32(key), i32(key * 10));
      }
      long snapshot = store.db.getLatestSequenceNumber();
      try (RunningReplication running = replication(url, store, mappingRejecting(tree, 4)).start()) {
        ReplicationException failure = Await.failure(running, WAIT);
        assertThat(failure.mapping()).contains(TREE);
        assertThat(failure.keyHex()).contains("00000004");
        assertThat(failure.sequence()).hasValue(snapshot);
        assertThat(failure.getMessage()).contains("'" + TREE + "'", "00000004", "no parameters for key 4");
        assertCopiedOnlyBefore(url, store, 4, failure);
      }
      assertThat(restartCaughtUp(url, store, tree)).hasSize(5);
    }
  }

  // ------------------------------------------------------------------ misconfiguration

  @Test
  void startFailsWhenTheStoreDeletesItsWalAtOnce() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.openWithoutWalRetention(dir, TREE)) {
      Replication replication = replication(url, store, mapping(store.family(TREE)));
      assertThatThrownBy(replication::start)
          .isInstanceOf(ReplicationException.class)
          .hasMessageContaining("WAL_ttl_seconds")
          .hasMessageContaining("setWalTtlSeconds")
          .hasMessageContaining(dir.toString());
      // Nothing was started: no schema, no table.
      assertThat(TestPostgres.query(url, "select table_schema, table_name from information_schema.tables"
          + " where table_schema not in ('pg_catalog', 'information_schema')")).isEmpty();
    }
  }

  // ------------------------------------------------------------------ writes kv2pg cannot (or can) read

  /**
   * Merge records hold operands, not values: kv2pg reads the merged value back. A merge in a tree
   * that no mapping reads is none of its business and must not stop it.
   */
  @Test
  void mergesAreReplicatedAsTheMergedValueAndIgnoredInUnmappedTrees() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "log", "other")) {
      ColumnFamilyHandle log = store.family("log");
      ColumnFamilyHandle other = store.family("other");
      TreeMapping mapping = TreeMapping.builder(log)
          .createCommands("create table if not exists log (key text primary key, value text not null)")
          .insert("insert into log values ($1, $2) on conflict (key) do update set value = excluded.value",
              (k, v) -> Params.of(new String(k, StandardCharsets.UTF_8), new String(v, StandardCharsets.UTF_8)))
          .remove("delete from log where key = $1", k -> Params.of(new String(k, StandardCharsets.UTF_8)))
          .build();
      store.db.put(log, utf8("a"), utf8("1"));
      store.db.merge(log, utf8("a"), utf8("2")); // before start: the snapshot holds "1,2"
      try (RunningReplication running =
          Replication.builder().postgres(url).source(store.db).tree(mapping).build().start()) {
        store.db.merge(log, utf8("a"), utf8("3"));
        store.db.merge(log, utf8("b"), utf8("x"));
        store.db.merge(other, utf8("unmapped"), utf8("u"));
        store.db.merge(log, utf8("b"), utf8("y"));
        store.db.put(log, utf8("c"), utf8("z"));
        store.db.merge(other, utf8("unmapped"), utf8("v"));
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        List<List<Object>> expected = new ArrayList<>();
        for (byte[][] entry : store.entries("log", new byte[0])) {
          expected.add(List.of(new String(entry[0], StandardCharsets.UTF_8),
              new String(entry[1], StandardCharsets.UTF_8)));
        }
        assertThat(TestPostgres.query(url, "select key, value from log order by key"))
            .isEqualTo(expected)
            .containsExactly(List.of("a", "1,2,3"), List.of("b", "x,y"), List.of("c", "z"));
        ReplicationStatus status = running.status();
        assertThat(status.state()).isEqualTo(ReplicationState.STREAMING);
        assertThat(status.failure()).isEmpty();
        assertThat(checkpoint(url, "default")).containsExactly(store.db.getLatestSequenceNumber(), null);
      }
    }
  }

  @Test
  void mergeOutsideTheMappedPrefixIsIgnored() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, TREE)) {
      ColumnFamilyHandle tree = store.family(TREE);
      byte[] prefix = {0};
      TreeMapping mapping = TreeMapping.builder(tree).prefix(prefix)
          .createCommands(CREATE)
          .insert("insert into items (key, value) values ($1, $2)"
              + " on conflict (key) do update set value = excluded.value", (k, v) -> Params.of(i32(k), i32(v)))
          .remove("delete from items where key = $1", k -> Params.of(i32(k)))
          .build();
      try (RunningReplication running = replication(url, store, mapping).start()) {
        store.db.put(tree, i32(1), i32(10));
        store.db.merge(tree, utf8("zzz"), utf8("a")); // not under prefix 00
        store.db.put(tree, i32(2), i32(20));
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertThat(rows(url)).isEqualTo(rowsOf(store.entries(TREE, prefix)))
            .containsExactly(List.of(1, 10), List.of(2, 20));
        assertHealthy(running, url, "default", store);
      }
    }
  }

  /** A statement mapping without a removeRange statement cannot apply a deleteRange. */
  @Test
  void deleteRangeOnAMappingWithoutRemoveRangeFailsNamingTheOperation() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, TREE)) {
      ColumnFamilyHandle tree = store.family(TREE);
      try (RunningReplication running = replication(url, store, mapping(tree)).start()) {
        for (int key = 1; key <= 4; key++) {
          store.db.put(tree, i32(key), i32(key * 10));
        }
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        long before = store.db.getLatestSequenceNumber();
        store.db.deleteRange(tree, i32(2), i32(4));
        long range = store.db.getLatestSequenceNumber();
        store.db.put(tree, i32(9), i32(90));

        ReplicationException failure = Await.failure(running, WAIT);
        assertThat(failure.getMessage())
            .contains("deleteRange", "removeRange", "'" + TREE + "'", "00000002", String.valueOf(range));
        assertThat(failure.mapping()).contains(TREE);
        assertThat(failure.sequence()).hasValue(range);
        assertThat(rows(url)).containsExactly(List.of(1, 10), List.of(2, 20), List.of(3, 30), List.of(4, 40));
        assertThat(checkpoint(url, "default")).containsExactly(before, failure.getMessage());
      }
    }
  }

  @Test
  void twoPhaseCommitTransactionFailsNamingTheOperation() throws Exception {
    String url = TestPostgres.newDatabase();
    List<ColumnFamilyHandle> handles = new ArrayList<>();
    try (DBOptions options = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true)
            .setWalTtlSeconds(3600);
        ColumnFamilyOptions familyOptions = new ColumnFamilyOptions();
        TransactionDBOptions transactionOptions = new TransactionDBOptions();
        TransactionDB db = TransactionDB.open(options, transactionOptions, dir.toString(), List.of(
            new ColumnFamilyDescriptor(org.rocksdb.RocksDB.DEFAULT_COLUMN_FAMILY, familyOptions),
            new ColumnFamilyDescriptor(utf8(TREE), familyOptions)), handles);
        WriteOptions writeOptions = new WriteOptions()) {
      try {
        ColumnFamilyHandle tree = handles.get(1);
        Replication replication = Replication.builder().postgres(url).source(db).tree(mapping(tree)).build();
        try (RunningReplication running = replication.start()) {
          db.put(tree, i32(1), i32(10));
          // A transaction without prepare is written as an ordinary batch: replicated.
          try (Transaction transaction = db.beginTransaction(writeOptions)) {
            transaction.put(tree, i32(2), i32(20));
            transaction.commit();
          }
          assertThat(running.awaitCaughtUp(WAIT)).isTrue();
          assertThat(rows(url)).containsExactly(List.of(1, 10), List.of(2, 20));
          long before = db.getLatestSequenceNumber();

          try (Transaction transaction = db.beginTransaction(writeOptions)) {
            transaction.setName("xid-1");
            transaction.put(tree, i32(3), i32(30));
            transaction.prepare();
            transaction.commit();
          }
          db.put(tree, i32(4), i32(40));

          ReplicationException failure = Await.failure(running, WAIT);
          assertThat(failure.getMessage()).contains("two-phase commit", "prepare()");
          assertThat(failure.sequence()).isPresent();
          assertThat(failure.sequence().getAsLong()).isGreaterThan(before);
          assertThat(rows(url)).containsExactly(List.of(1, 10), List.of(2, 20));
          assertThat(checkpoint(url, "default")).containsExactly(before, failure.getMessage());
        }
      } finally {
        handles.forEach(ColumnFamilyHandle::close);
      }
    }
  }

  // ------------------------------------------------------------------ transient Postgres errors

  @Test
  void lostConnectionsAreRetriedWithoutLosingOrReorderingAnything() throws Exception {
    String url = TestPostgres.newDatabase();
    String name = "killed";
    try (TestStore store = TestStore.open(dir, TREE)) {
      ColumnFamilyHandle tree = store.family(TREE);
      try (RunningReplication running =
          Replication.builder().postgres(url).source(store.db).name(name).tree(mapping(tree)).build().start()) {
        Set<Integer> killed = new HashSet<>();
        int version = 0;
        // Kills between writes: the writer finds its connection dead when it next has work.
        for (int round = 0; round < 3; round++) {
          for (int key = 0; key < 20; key++) {
            store.db.put(tree, i32(key), i32(++version % 1000));
          }
          assertThat(running.awaitCaughtUp(WAIT)).isTrue();
          killBackend(url, name, killed);
          for (int key = 0; key < 20; key++) {
            if (key % 3 == round) {
              store.db.delete(tree, i32(key));
            } else {
              store.db.put(tree, i32(key), i32(++version % 1000));
            }
          }
          assertThat(running.awaitCaughtUp(WAIT)).isTrue();
          assertThat(rows(url)).isEqualTo(storeRows(store));
        }

        // Kills while writes stream in: some land in the middle of a transaction or its commit.
        AtomicBoolean writing = new AtomicBoolean(true);
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
          int value = 0;
          try {
            for (int i = 0; writing.get() || i < 3000; i++) {
              int key = i % 50;
              value = (value + 7) % 1000;
              if (i % 11 == 0) {
                store.db.delete(tree, i32(key));
              } else {
                store.db.put(tree, i32(key), i32(value));
              }
              LockSupport.parkNanos(100_000); // a steady stream, not a flood
            }
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
        try {
          for (int kill = 0; kill < 4; kill++) {
            killBackend(url, name, killed); // each time a new connection: kv2pg reconnected
          }
        } finally {
          writing.set(false);
          writer.get(60, TimeUnit.SECONDS); // before the store closes
        }

        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertThat(rows(url)).isEqualTo(storeRows(store));
        assertHealthy(running, url, name, store);
      }
    }
  }

  @Test
  void deadlockIsRetried() throws Exception {
    String url = TestPostgres.newDatabase();
    String name = "deadlocked";
    try (TestStore store = TestStore.open(dir, TREE)) {
      ColumnFamilyHandle tree = store.family(TREE);
      try (RunningReplication running =
          Replication.builder().postgres(url).source(store.db).name(name).tree(mapping(tree)).build().start()) {
        for (int key = 1; key <= 3; key++) {
          store.db.put(tree, i32(key), i32(key));
        }
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();

        try (Connection holder = DriverManager.getConnection(url);
            Connection victim = DriverManager.getConnection(url)) {
          holder.setAutoCommit(false);
          victim.setAutoCommit(false);
          try (Statement statement = victim.createStatement()) {
            // This session never runs the deadlock check first, so kv2pg is the one aborted.
            try {
              statement.execute("set deadlock_timeout = '10min'");
            } catch (SQLException e) {
              Assumptions.abort("setting deadlock_timeout needs a superuser: " + e.getMessage());
            }
            statement.execute("update items set value = value where key = 3");
          }
          try (Statement statement = holder.createStatement()) {
            statement.execute("update items set value = value where key = 2");
          }
          // kv2pg updates keys 1, 2, 3 in this order: it locks 1 and waits for 2 (holder).
          try (WriteBatch batch = new WriteBatch(); WriteOptions options = new WriteOptions()) {
            batch.put(tree, i32(1), i32(100));
            batch.put(tree, i32(2), i32(200));
            batch.put(tree, i32(3), i32(300));
            store.db.write(options, batch);
          }
          Await.condition(WAIT, "kv2pg waits for key 2", () -> waitsForLock(url, "application_name = 'kv2pg-" + name + "'"));
          int victimPid = pid(victim);
          // victim waits for key 1, which kv2pg holds...
          CompletableFuture<Void> blocked = CompletableFuture.runAsync(() -> {
            try (Statement statement = victim.createStatement()) {
              statement.execute("update items set value = value where key = 1");
              victim.commit();
            } catch (SQLException e) {
              throw new IllegalStateException(e);
            }
          });
          Await.condition(WAIT, "the other session waits for key 1", () -> waitsForLock(url, "pid = " + victimPid));
          // ...and once holder lets go of key 2, kv2pg waits for key 3, which victim holds.
          holder.commit();
          // victim's update only goes through once kv2pg's transaction was rolled back.
          blocked.get(60, TimeUnit.SECONDS);
        }

        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertThat(rows(url)).isEqualTo(storeRows(store))
            .containsExactly(List.of(1, 100), List.of(2, 200), List.of(3, 300));
        assertHealthy(running, url, name, store);
      }
    }
  }

  // ------------------------------------------------------------------ helpers

  static byte[] i32(int value) {
    return ByteBuffer.allocate(4).putInt(value).array();
  }

  static int i32(byte[] bytes) {
    return ByteBuffer.wrap(bytes).getInt();
  }

  static byte[] utf8(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  static TreeMapping mapping(ColumnFamilyHandle tree) {
    return mappingRejecting(tree, Integer.MIN_VALUE);
  }

  /** The {@code items} mapping, with an insert function that throws for one key. */
  static TreeMapping mappingRejecting(ColumnFamilyHandle tree, int rejectedKey) {
    return TreeMapping.builder(tree)
        .createCommands(CREATE)
        .insert("insert into items (key, value) values ($1, $2)"
            + " on conflict (key) do update set value = excluded.value", (key, value) -> {
              if (i32(key) == rejectedKey) {
                throw new IllegalArgumentException("no parameters for key " + rejectedKey);
              }
              return Params.of(i32(key), i32(value));
            })
        .remove("delete from items where key = $1", key -> Params.of(i32(key)))
        .build();
  }

  static Replication replication(String url, TestStore store, TreeMapping mapping) {
    return Replication.builder().postgres(url).source(store.db).tree(mapping).build();
  }

  /**
   * Starts the {@code items} replication, writes key 1 = 10, and waits until it is applied; closes
   * the replication if that fails.
   */
  static RunningReplication startCaughtUp(String url, TestStore store, ColumnFamilyHandle tree)
      throws Exception {
    RunningReplication running = replication(url, store, mapping(tree)).start();
    try {
      store.db.put(tree, i32(1), i32(10));
      assertThat(running.awaitCaughtUp(WAIT)).isTrue();
      return running;
    } catch (Throwable e) {
      running.close();
      throw e;
    }
  }

  static List<List<Object>> rows(String url) {
    return TestPostgres.query(url, "select key, value from items order by key");
  }

  /** The store's {@code items} tree as rows, in key order (which is numeric order for keys >= 0). */
  static List<List<Object>> storeRows(TestStore store) {
    return rowsOf(store.entries(TREE, new byte[0]));
  }

  static List<List<Object>> rowsOf(List<byte[][]> entries) {
    List<List<Object>> rows = new ArrayList<>();
    for (byte[][] entry : entries) {
      rows.add(List.of(i32(entry[0]), i32(entry[1])));
    }
    return rows;
  }

  /** Returns the checkpoint row: applied sequence and recorded failure. */
  static List<Object> checkpoint(String url, String name) {
    List<List<Object>> rows = TestPostgres.query(url,
        "select applied_sequence, failure from kv2pg.replication where name = '" + name + "'");
    assertThat(rows).hasSize(1);
    return rows.get(0);
  }

  /**
   * Restarts the {@code items} replication, waits until it caught up, checks that the table equals
   * the store and the replication is healthy, and returns the table's rows.
   */
  static List<List<Object>> restartCaughtUp(String url, TestStore store, ColumnFamilyHandle tree)
      throws InterruptedException {
    try (RunningReplication running = replication(url, store, mapping(tree)).start()) {
      assertThat(running.awaitCaughtUp(WAIT)).isTrue();
      List<List<Object>> rows = rows(url);
      assertThat(rows).isEqualTo(storeRows(store));
      assertHealthy(running, url, "default", store);
      return rows;
    }
  }

  /**
   * After a failed initial copy: whatever was committed comes before the bad key and is exactly
   * what the store holds, and the checkpoint records the failure.
   */
  static void assertCopiedOnlyBefore(String url, TestStore store, int badKey, ReplicationException failure) {
    List<List<Object>> copied = rows(url);
    assertThat(storeRows(store).subList(0, copied.size())).isEqualTo(copied);
    assertThat(copied).allSatisfy(row -> assertThat((Integer) row.get(0)).isLessThan(badKey));
    assertThat(checkpoint(url, "default").get(1)).isEqualTo(failure.getMessage());
  }

  static void assertHealthy(RunningReplication running, String url, String name, TestStore store) {
    ReplicationStatus status = running.status();
    assertThat(status.state()).isEqualTo(ReplicationState.STREAMING);
    assertThat(status.failure()).isEmpty();
    assertThat(status.appliedSequence()).isEqualTo(store.db.getLatestSequenceNumber());
    assertThat(checkpoint(url, name)).containsExactly(store.db.getLatestSequenceNumber(), null);
  }

  /**
   * Waits for a connection of kv2pg's that was not killed before (a dying one may still be
   * listed), and terminates its backend.
   */
  static void killBackend(String url, String name, Set<Integer> killed) {
    String live = "select pid from pg_stat_activity where application_name = 'kv2pg-" + name
        + "' and datname = current_database()";
    int[] pid = new int[1];
    Await.condition(WAIT, "kv2pg has a new connection", () -> {
      for (List<Object> row : TestPostgres.query(url, live)) {
        if (!killed.contains((Integer) row.get(0))) {
          pid[0] = (Integer) row.get(0);
          return true;
        }
      }
      return false;
    });
    assertThat(TestPostgres.query(url, "select pg_terminate_backend(" + pid[0] + ")"))
        .as("terminating kv2pg's backend %s", pid[0]).containsExactly(List.of(true));
    killed.add(pid[0]);
  }

  static boolean waitsForLock(String url, String which) {
    return !TestPostgres.query(url, "select pid from pg_stat_activity where " + which
        + " and datname = current_database() and wait_event_type = 'Lock'").isEmpty();
  }

  static int pid(Connection connection) throws SQLException {
    try (Statement statement = connection.createStatement();
        var rows = statement.executeQuery("select pg_backend_pid()")) {
      rows.next();
      return rows.getInt(1);
    }
  }
}
