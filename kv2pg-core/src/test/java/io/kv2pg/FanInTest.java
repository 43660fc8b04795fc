package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * Fan-in: four stores, each with a replication of its own, write the same declared tables at once,
 * each mapping with the {@link TreeMapping.Builder#keyRange key range} its store holds. Their first
 * copies overlap, writers keep writing during the copies and the stream, and each replication's
 * deletes, range deletes, re-copies and repairs touch only its own rows.
 */
class FanInTest {
  private static final int STORES = 4;
  private static final Duration TIMEOUT = Duration.ofSeconds(120);

  @TempDir Path dir;

  /** A key of store {@code shard}: {@code s<shard>:k<n>}, so that each store's keys form one range. */
  static byte[] key(int shard, int n) {
    return String.format("s%d:k%05d", shard, n).getBytes(StandardCharsets.UTF_8);
  }

  /** The first key of store {@code shard}'s range. */
  static byte[] rangeFrom(int shard) {
    return ("s" + shard + ":").getBytes(StandardCharsets.UTF_8);
  }

  /** The end of store {@code shard}'s range; the last store's range reaches the end of the keys. */
  static byte[] rangeUntil(int shard) {
    return shard == STORES - 1 ? null : ("s" + shard + ";").getBytes(StandardCharsets.UTF_8);
  }

  /** The versioned table "items" (key, version, payload), for store {@code shard}'s key range. */
  static TreeMapping items(ColumnFamilyHandle family, int shard) {
    return TreeMapping.builder(family).table("items")
        .keyColumn("key", Decoders.utf8())
        .valueColumn("version", Decoders.int64At(0))
        .valueColumn("payload", Decoders.utf8From(8))
        .keyRange(rangeFrom(shard), rangeUntil(shard))
        .build();
  }

  private static Replication replication(String url, TestStore store, int shard, TreeMapping... mappings) {
    Replication.Builder builder = Replication.builder().postgres(url).source(store.db).name("fanin-" + shard)
        .copyChunkRows(250); // many chunks, so that the four copies interleave
    for (TreeMapping mapping : mappings) {
      builder.tree(mapping);
    }
    return builder.build();
  }

  /** Starts every replication at once, from threads that wait for each other. */
  private static List<RunningReplication> startTogether(List<Replication> replications) throws Exception {
    CyclicBarrier barrier = new CyclicBarrier(replications.size());
    ExecutorService starters = Executors.newFixedThreadPool(replications.size());
    try {
      List<Future<RunningReplication>> started = new ArrayList<>();
      for (Replication replication : replications) {
        started.add(starters.submit(() -> {
          barrier.await(60, TimeUnit.SECONDS);
          return replication.start();
        }));
      }
      List<RunningReplication> running = new ArrayList<>();
      for (Future<RunningReplication> future : started) {
        running.add(future.get(60, TimeUnit.SECONDS));
      }
      return running;
    } finally {
      starters.shutdown();
    }
  }

  private static void stopAll(List<RunningReplication> running) {
    for (RunningReplication replication : running) {
      replication.stop();
    }
  }

  /**
   * Once every replication streams, lets each writer write {@code more} times (writes the stream,
   * not the copy, brings), stops the writers, and waits until every replication caught up.
   */
  private static void writeWhileStreamingThenStop(List<RunningReplication> running,
      List<? extends BackgroundWriter> writers, int more) throws Exception {
    for (RunningReplication replication : running) {
      Await.state(replication, TIMEOUT, ReplicationState.STREAMING);
    }
    for (BackgroundWriter writer : writers) {
      long now = writer.writes.get();
      Await.condition(TIMEOUT, "store " + writer.shard + " writes " + more + " more times",
          () -> writer.writes.get() >= now + more);
    }
    for (BackgroundWriter writer : writers) {
      writer.close();
    }
    awaitAllCaughtUp(running, "after the writes");
  }

  private static void awaitAllCaughtUp(List<RunningReplication> running, String context) throws Exception {
    for (RunningReplication replication : running) {
      Await.caughtUp(replication, TIMEOUT, context + ", " + replication.status().name());
    }
  }

  /** The union of the stores' entries of {@code family}, rendered by {@code render}, sorted. */
  private static List<String> union(List<TestStore> stores, String family, Function<byte[][], String> render) {
    List<String> rows = new ArrayList<>();
    for (TestStore store : stores) {
      rows.addAll(TableDiff.storeRows(store, family, new byte[0], render));
    }
    rows.sort(null);
    return rows;
  }

  private static String item(byte[][] entry) {
    return CrashChild.text(entry[0]) + "|" + CrashChild.version(entry[1]) + "|" + CrashChild.payload(entry[1]);
  }

  private static void assertItemsAreUnion(String url, List<TestStore> stores, String context) {
    TableDiff.assertSameRows(context, "items", union(stores, "data", FanInTest::item),
        TableDiff.tableRows(url, "select key, version, payload from items"));
  }

  private static void assertVerificationClean(List<Replication> replications) {
    for (Replication replication : replications) {
      VerificationReport report = Verification.of(replication).run();
      assertThat(report.isClean()).as("verification of %s: %s", replication.name(), report.format()).isTrue();
    }
  }

  private List<TestStore> openStores(String... families) throws RocksDBException {
    List<TestStore> stores = new ArrayList<>();
    for (int shard = 0; shard < STORES; shard++) {
      stores.add(TestStore.open(dir.resolve("store-" + shard), families));
    }
    return stores;
  }

  private static void closeAll(List<? extends AutoCloseable> closeables) throws Exception {
    for (AutoCloseable closeable : closeables) {
      closeable.close();
    }
  }

  @Test
  void disjointRangesCopyAndStreamIntoOneTableAtOnce() throws Exception {
    String url = TestPostgres.newDatabase();
    VersionedWorkload.installTriggerFunction(url);
    VersionedWorkload.createDeclaredTable(url, "items");
    List<TestStore> stores = openStores("data");
    List<ItemWriter> writers = new ArrayList<>();
    List<RunningReplication> running = List.of();
    try {
      List<Replication> replications = new ArrayList<>();
      for (int shard = 0; shard < STORES; shard++) {
        TestStore store = stores.get(shard);
        AtomicLong version = new AtomicLong();
        try (WriteBatch batch = new WriteBatch(); WriteOptions options = new WriteOptions()) {
          for (int n = 0; n < 3_000; n++) {
            long v = version.incrementAndGet();
            batch.put(store.family("data"), key(shard, n), CrashChild.value(v, "first-" + v));
          }
          store.db.write(options, batch);
        }
        replications.add(replication(url, store, shard, items(store.family("data"), shard)));
        writers.add(new ItemWriter(store, shard, 4_000, version));
      }
      running = startTogether(replications);
      writeWhileStreamingThenStop(running, writers, 300);
      for (ItemWriter writer : writers) {
        assertThat(writer.deleteRanges.get()).as("range deletes of store %d", writer.shard).isPositive();
        assertThat(writer.deletes.get()).as("deletes of store %d", writer.shard).isPositive();
      }
      assertItemsAreUnion(url, stores, "four stores streaming into one table");
      VersionedWorkload.assertNoWriteRefused(url, "fan-in");
      for (RunningReplication replication : running) {
        ReplicationStatus status = replication.status();
        assertThat(status.deadlocks()).as("deadlocks of %s", status.name()).isGreaterThanOrEqualTo(0)
            .isLessThanOrEqualTo(status.retries());
      }
      stopAll(running);
      assertVerificationClean(replications);
    } finally {
      writers.forEach(ItemWriter::closeQuietly);
      stopAll(running);
      closeAll(stores);
    }
  }

  @Test
  void oneStoresDeletesResetAndRepairLeaveTheOtherStoresRows() throws Exception {
    String url = TestPostgres.newDatabase();
    List<TestStore> stores = openStores("data");
    List<RunningReplication> running = new ArrayList<>();
    try {
      List<Replication> replications = new ArrayList<>();
      for (int shard = 0; shard < STORES; shard++) {
        TestStore store = stores.get(shard);
        for (int n = 0; n < 500; n++) {
          store.db.put(store.family("data"), key(shard, n), CrashChild.value(n + 1, "v" + n));
        }
        replications.add(replication(url, store, shard, items(store.family("data"), shard)));
      }
      // kv2pg creates the table here, from four starts at once.
      running.addAll(startTogether(replications));
      awaitAllCaughtUp(running, "first copies");
      assertItemsAreUnion(url, stores, "after the first copies");

      // Store 0 deletes a key it never held, of store 1's range, and then every key of every range.
      ColumnFamilyHandle data0 = stores.get(0).family("data");
      stores.get(0).db.delete(data0, key(1, 7));
      stores.get(0).db.deleteRange(data0, "s".getBytes(StandardCharsets.UTF_8), "t".getBytes(StandardCharsets.UTF_8));
      for (int n = 0; n < 20; n++) {
        stores.get(0).db.put(data0, key(0, 1000 + n), CrashChild.value(10_000 + n, "back" + n));
      }
      awaitAllCaughtUp(running, "after store 0's deletes");
      assertItemsAreUnion(url, stores, "store 0 deleted a key and ranges it does not own");

      // A reset re-copies store 0's mapping, clearing its rows first: only its rows.
      running.get(0).stop();
      assertThat(ReplicationRecords.of(url).reset("fanin-0")).isTrue();
      stores.get(0).db.put(data0, key(0, 2000), CrashChild.value(20_000, "while stopped"));
      running.set(0, replications.get(0).start());
      awaitAllCaughtUp(running, "after the reset of fanin-0");
      assertItemsAreUnion(url, stores, "store 0 re-copied after a reset");

      // A repair of store 1's replication fixes its own rows and sees the others' as none of its business.
      TestPostgres.execute(url, "update items set payload = 'tampered' where key = 's1:k00003';"
          + " insert into items (key, version, payload, kv_key) values ('s1:k99999', 1, 'stray', 's1:k99999'::bytea);"
          + " delete from items where key = 's1:k00004'");
      RepairReport repair = Verification.of(replications.get(1)).repair();
      assertThat(repair.isClean()).as(repair.format()).isTrue();
      assertThat(repair.before().tables().get(0).extra()).as(repair.format()).isEqualTo(1);
      assertThat(repair.tables().get(0).deleted()).as(repair.format()).isEqualTo(1);
      assertThat(repair.tables().get(0).inserted()).as(repair.format()).isEqualTo(1);
      assertThat(repair.tables().get(0).updated()).as(repair.format()).isEqualTo(1);
      assertItemsAreUnion(url, stores, "after the repair of fanin-1");
      stopAll(running);
      assertVerificationClean(replications);
    } finally {
      stopAll(running);
      closeAll(stores);
    }
  }

  /** A changed key range is a changed mapping: copied again, replacing only the rows in the new range. */
  @Test
  void aChangedKeyRangeCopiesTheMappingAgain() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      for (int n = 0; n < 50; n++) {
        store.db.put(data, key(0, n), CrashChild.value(n + 1, "v" + n));
      }
      TreeMapping narrow = TreeMapping.builder(data).table("items").keyColumn("key", Decoders.utf8())
          .valueColumn("version", Decoders.int64At(0)).valueColumn("payload", Decoders.utf8From(8))
          .keyRange(key(0, 0), key(0, 100)).build();
      try (RunningReplication running = replication(url, store, 0, narrow).start()) {
        Await.caughtUp(running, TIMEOUT, "first copy");
      }
      TestPostgres.execute(url, "insert into items (key, version, payload, kv_key)"
          + " values ('s1:k00001', 1, 'another store''s', 's1:k00001'::bytea);"
          + " update items set payload = 'stale' where key = 's0:k00002'");
      try (RunningReplication running = replication(url, store, 0, items(data, 0)).start()) {
        Await.caughtUp(running, TIMEOUT, "after the key range changed");
      }
      List<String> expected = new ArrayList<>(TableDiff.storeRows(store, "data", new byte[0], FanInTest::item));
      expected.add("s1:k00001|1|another store's");
      expected.sort(null);
      TableDiff.assertSameRows("re-copied for its new key range", "items", expected,
          TableDiff.tableRows(url, "select key, version, payload from items"));
    }
  }

  /** The items mapping with an explicit key range. */
  private static TreeMapping itemsIn(ColumnFamilyHandle family, byte[] from, byte[] until) {
    return TreeMapping.builder(family).table("items").keyColumn("key", Decoders.utf8())
        .valueColumn("version", Decoders.int64At(0)).valueColumn("payload", Decoders.utf8From(8))
        .keyRange(from, until).build();
  }

  @Test
  void twoReplicationsCannotOwnTheSameRowsOfATable() throws Exception {
    String url = TestPostgres.newDatabase();
    List<TestStore> stores = openStores("data");
    try {
      ColumnFamilyHandle first = stores.get(0).family("data");
      ColumnFamilyHandle second = stores.get(1).family("data");
      for (int n = 0; n < 40; n++) {
        stores.get(0).db.put(first, key(0, n), CrashChild.value(n + 1, "first's"));
        stores.get(1).db.put(second, key(1, n), CrashChild.value(n + 1, "second's"));
      }
      try (RunningReplication running = replication(url, stores.get(0), 0, items(first, 0)).start()) {
        Await.caughtUp(running, TIMEOUT, "the first store's copy");
      }
      List<String> firstRows = TableDiff.storeRows(stores.get(0), "data", new byte[0], FanInTest::item);
      HexFormat hex = HexFormat.of();

      // A range reaching into the first store's, and a mapping without a range (the whole table).
      for (TreeMapping overlapping : List.of(itemsIn(second, key(0, 20), rangeUntil(1)),
          TreeMapping.builder(second).table("items").keyColumn("key", Decoders.utf8())
              .valueColumn("version", Decoders.int64At(0)).valueColumn("payload", Decoders.utf8From(8)).build())) {
        try (RunningReplication running = replication(url, stores.get(1), 1, overlapping).start()) {
          ReplicationException failure = Await.failure(running, TIMEOUT);
          assertThat(failure.kind()).isEqualTo(ReplicationException.Kind.CONFIGURATION);
          assertThat(failure.getMessage())
              .contains("Replication 'fanin-1' cannot start: its mapping 'data' owns the rows of table \"items\"")
              .contains("replication 'fanin-0' (mapping 'data') owns those from 0x" + hex.formatHex(rangeFrom(0))
                  + " up to 0x" + hex.formatHex(rangeUntil(0)) + " (exclusive)")
              .contains("disjoint key ranges")
              .contains("ReplicationRecords.forget(\"fanin-0\")");
        }
        TableDiff.assertSameRows("refused: nothing written or removed", "items", firstRows,
            TableDiff.tableRows(url, "select key, version, payload from items"));
      }

      // A range that starts where the first store's ends is its neighbour, not an overlap; the
      // first replication, started again, keeps its own claim.
      try (RunningReplication running =
          replication(url, stores.get(1), 1, itemsIn(second, rangeUntil(0), rangeUntil(1))).start()) {
        Await.caughtUp(running, TIMEOUT, "the neighbouring range's copy");
      }
      try (RunningReplication running = replication(url, stores.get(0), 0, items(first, 0)).start()) {
        Await.caughtUp(running, TIMEOUT, "the first replication again");
      }
      assertItemsAreUnion(url, stores.subList(0, 2), "two neighbouring ranges");

      // Forgotten, the first replication's claim no longer stands in the way.
      ReplicationRecords.of(url).forget("fanin-0");
      try (RunningReplication running = replication(url, stores.get(1), 1, items(second, 1)).start()) {
        Await.caughtUp(running, TIMEOUT, "after the first replication was forgotten");
      }
    } finally {
      closeAll(stores);
    }
  }

  @Test
  void putOutsideTheKeyRangeFailsNamingTreeKeySequenceAndWhatToDo() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      store.db.put(data, key(2, 1), CrashChild.value(1, "mine"));
      Replication replication = replication(url, store, 2, items(data, 2));
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, TIMEOUT, "first copy");
        store.db.put(data, key(1, 5), CrashChild.value(2, "another store's"));
        long sequence = store.db.getLatestSequenceNumber();
        ReplicationException failure = Await.failure(running, TIMEOUT);
        assertThat(failure.kind()).isEqualTo(ReplicationException.Kind.DATA);
        assertThat(failure.getMessage())
            .contains("tree 'data'")
            .contains(HexFormat.of().formatHex(key(1, 5)))
            .contains("at sequence " + sequence)
            .contains("outside the mapping's keyRange")
            .contains("Declare a wider keyRange");
        assertThat(failure.key()).hasValueSatisfying(k -> assertThat(k).isEqualTo(key(1, 5)));
      }
      assertThat(TestPostgres.query(url, "select key from items")).containsExactly(List.of("s2:k00001"));
    }
  }

  @Test
  void putOutsideTheKeyRangeInTheCopyFails() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      store.db.put(data, key(2, 1), CrashChild.value(1, "mine"));
      store.db.put(data, key(3, 1), CrashChild.value(2, "the next store's"));
      try (RunningReplication running = replication(url, store, 2, items(data, 2)).start()) {
        ReplicationException failure = Await.failure(running, TIMEOUT);
        assertThat(failure.getMessage()).contains(HexFormat.of().formatHex(key(3, 1)))
            .contains("outside the mapping's keyRange").contains("Mapping 'data'");
      }
    }
  }

  /** With dead letters on, a put outside the range, in the copy or the stream, is set aside. */
  @Test
  void putOutsideTheKeyRangeIsADeadLetterWhenAsked() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      store.db.put(data, key(2, 1), CrashChild.value(1, "mine"));
      store.db.put(data, key(3, 1), CrashChild.value(2, "copied, the next store's"));
      Replication replication = Replication.builder().postgres(url).source(store.db).name("fanin-2")
          .onDataError(OnDataError.DEAD_LETTER).tree(items(data, 2)).build();
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, TIMEOUT, "first copy");
        store.db.put(data, key(1, 5), CrashChild.value(3, "streamed, another store's"));
        store.db.put(data, key(2, 2), CrashChild.value(4, "mine too"));
        Await.caughtUp(running, TIMEOUT, "stream");
        assertThat(running.status().deadLetters()).isEqualTo(2);
      }
      assertThat(ReplicationRecords.of(url).deadLetters("fanin-2")).extracting(DeadLetter::keyHex)
          .containsExactlyInAnyOrder(HexFormat.of().formatHex(key(3, 1)), HexFormat.of().formatHex(key(1, 5)));
      assertThat(TestPostgres.query(url, "select key from items order by key"))
          .containsExactly(List.of("s2:k00001"), List.of("s2:k00002"));
    }
  }

  /** Customers and their orders, each with a version for the double-apply trigger. */
  static TreeMapping customers(ColumnFamilyHandle family, int shard) {
    return TreeMapping.builder(family).table("customers")
        .keyColumn("id", Decoders.int64())
        .valueColumn("version", Decoders.int64At(0))
        .valueColumn("name", Decoders.utf8From(8))
        .keyRange(id(shardBase(shard)), shard == STORES - 1 ? null : id(shardBase(shard + 1)))
        .build();
  }

  static TreeMapping orders(ColumnFamilyHandle family, int shard) {
    return TreeMapping.builder(family).table("orders")
        .keyColumn("id", Decoders.int64())
        .valueColumn("version", Decoders.int64At(0))
        .valueColumn("customer_id", Decoders.int64At(8))
        .valueColumn("note", Decoders.utf8From(16))
        .keyRange(id(shardBase(shard)), shard == STORES - 1 ? null : id(shardBase(shard + 1)))
        .build();
  }

  static long shardBase(int shard) {
    return (shard + 1) * 1_000_000L;
  }

  static byte[] id(long id) {
    return ByteBuffer.allocate(8).putLong(id).array();
  }

  @Test
  void overlappingTablesWithForeignKeys() throws Exception {
    String url = TestPostgres.newDatabase();
    VersionedWorkload.installTriggerFunction(url);
    // As kv2pg declares them, created first so that the version trigger also sees the copies.
    TestPostgres.execute(url, """
        create table customers (id bigint not null, version bigint, name text, kv_key bytea not null unique,
          primary key (id));
        create table orders (id bigint not null, version bigint, customer_id bigint, note text,
          kv_key bytea not null unique, primary key (id));
        alter table orders add constraint orders_customer_fk foreign key (customer_id) references customers (id)
          deferrable initially deferred;
        """);
    VersionedWorkload.protect(url, "customers", "id", "version");
    VersionedWorkload.protect(url, "orders", "id", "version");
    List<TestStore> stores = openStores("customers", "orders");
    List<ShopWriter> writers = new ArrayList<>();
    List<RunningReplication> running = List.of();
    try {
      List<Replication> replications = new ArrayList<>();
      for (int shard = 0; shard < STORES; shard++) {
        TestStore store = stores.get(shard);
        ShopWriter writer = new ShopWriter(store, shard);
        writer.preload(400);
        replications.add(replication(url, store, shard, customers(store.family("customers"), shard),
            orders(store.family("orders"), shard)));
        writers.add(writer);
      }
      writers.forEach(ShopWriter::start);
      running = startTogether(replications);
      writeWhileStreamingThenStop(running, writers, 200);
      TableDiff.assertSameRows("customers of four stores", "customers",
          union(stores, "customers", entry -> ByteBuffer.wrap(entry[0]).getLong() + "|" + CrashChild.version(entry[1])
              + "|" + new String(entry[1], 8, entry[1].length - 8, StandardCharsets.UTF_8)),
          TableDiff.tableRows(url, "select id, version, name from customers"));
      TableDiff.assertSameRows("orders of four stores", "orders",
          union(stores, "orders", entry -> ByteBuffer.wrap(entry[0]).getLong() + "|" + CrashChild.version(entry[1])
              + "|" + ByteBuffer.wrap(entry[1], 8, 8).getLong()
              + "|" + new String(entry[1], 16, entry[1].length - 16, StandardCharsets.UTF_8)),
          TableDiff.tableRows(url, "select id, version, customer_id, note from orders"));
      VersionedWorkload.assertNoWriteRefused(url, "fan-in with foreign keys");
      long deadlocks = 0;
      for (RunningReplication replication : running) {
        ReplicationStatus status = replication.status();
        assertThat(status.deadlocks()).isGreaterThanOrEqualTo(0).isLessThanOrEqualTo(status.retries());
        deadlocks += status.deadlocks();
      }
      System.out.println("FanInTest: deadlocks over the four replications with foreign keys: " + deadlocks);
      stopAll(running);
      assertVerificationClean(replications);
    } finally {
      writers.forEach(ShopWriter::closeQuietly);
      stopAll(running);
      closeAll(stores);
    }
  }

  /** A background writer of one store: a bounded pace of random writes until closed. */
  abstract static class BackgroundWriter implements AutoCloseable {
    final TestStore store;
    final int shard;
    final Random random;
    final AtomicLong writes = new AtomicLong();
    private final AtomicBoolean running = new AtomicBoolean(true);
    private Thread thread;
    private volatile Throwable failure;

    BackgroundWriter(TestStore store, int shard) {
      this.store = store;
      this.shard = shard;
      this.random = new Random(42 + shard);
    }

    void start() {
      thread = new Thread(this::run, "fan-in-writer-" + shard);
      thread.setDaemon(true);
      thread.start();
    }

    private void run() {
      try (WriteOptions options = new WriteOptions()) {
        while (running.get()) {
          try (WriteBatch batch = new WriteBatch()) {
            add(batch);
            store.db.write(options, batch);
          }
          writes.incrementAndGet();
          LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(500));
        }
      } catch (RocksDBException | RuntimeException e) {
        failure = e;
      }
    }

    /** Adds one write (or several, as one batch) to {@code batch}. */
    abstract void add(WriteBatch batch) throws RocksDBException;

    void closeQuietly() {
      running.set(false);
      if (thread != null) {
        try {
          thread.join(TimeUnit.SECONDS.toMillis(60));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }

    @Override
    public void close() {
      closeQuietly();
      if (thread != null && thread.isAlive()) {
        throw new IllegalStateException("writer " + shard + " did not stop within 60 s");
      }
      if (failure != null) {
        throw new IllegalStateException("writer " + shard + " failed", failure);
      }
    }
  }

  /** Puts, updates, deletes, batches and range deletes of "items" keys in one store's range. */
  static final class ItemWriter extends BackgroundWriter {
    private final int keys;
    private final AtomicLong version;
    final AtomicLong deletes = new AtomicLong();
    final AtomicLong deleteRanges = new AtomicLong();

    ItemWriter(TestStore store, int shard, int keys, AtomicLong version) {
      super(store, shard);
      this.keys = keys;
      this.version = version;
      start();
    }

    @Override
    void add(WriteBatch batch) throws RocksDBException {
      ColumnFamilyHandle data = store.family("data");
      int kind = random.nextInt(100);
      int count = kind < 15 ? 2 + random.nextInt(7) : 1;
      for (int i = 0; i < count; i++) {
        int n = random.nextInt(keys);
        int op = random.nextInt(100);
        if (op < 3) {
          batch.deleteRange(data, key(shard, n), key(shard, n + 1 + random.nextInt(20)));
          deleteRanges.incrementAndGet();
        } else if (op < 18) {
          batch.delete(data, key(shard, n));
          deletes.incrementAndGet();
        } else {
          long v = version.incrementAndGet();
          batch.put(data, key(shard, n), CrashChild.value(v, "p" + v));
        }
      }
    }
  }

  /**
   * Customers and orders of one store: new customers with orders, updates, order deletes, and
   * customers deleted with their orders in one batch, so the foreign key always holds.
   */
  static final class ShopWriter extends BackgroundWriter {
    private final List<Long> customers = new ArrayList<>();
    private final java.util.Map<Long, List<Long>> ordersOf = new java.util.HashMap<>();
    private long nextId;
    private long version;

    ShopWriter(TestStore store, int shard) {
      super(store, shard);
      this.nextId = shardBase(shard);
    }

    void preload(int count) throws RocksDBException {
      try (WriteBatch batch = new WriteBatch(); WriteOptions options = new WriteOptions()) {
        for (int i = 0; i < count; i++) {
          newCustomer(batch);
        }
        store.db.write(options, batch);
      }
    }

    private void newCustomer(WriteBatch batch) throws RocksDBException {
      long customer = nextId++;
      putCustomer(batch, customer);
      customers.add(customer);
      List<Long> orders = new ArrayList<>();
      ordersOf.put(customer, orders);
      for (int i = random.nextInt(4); i > 0; i--) {
        long order = nextId++;
        orders.add(order);
        putOrder(batch, order, customer);
      }
    }

    private void putCustomer(WriteBatch batch, long customer) throws RocksDBException {
      long v = ++version;
      batch.put(store.family("customers"), id(customer), CrashChild.value(v, "customer " + customer + " v" + v));
    }

    private void putOrder(WriteBatch batch, long order, long customer) throws RocksDBException {
      long v = ++version;
      byte[] note = ("order " + order + " v" + v).getBytes(StandardCharsets.UTF_8);
      batch.put(store.family("orders"), id(order),
          ByteBuffer.allocate(16 + note.length).putLong(v).putLong(customer).put(note).array());
    }

    @Override
    void add(WriteBatch batch) throws RocksDBException {
      int op = random.nextInt(100);
      if (customers.isEmpty() || op < 30) {
        newCustomer(batch);
        return;
      }
      long customer = customers.get(random.nextInt(customers.size()));
      List<Long> orders = ordersOf.get(customer);
      if (op < 50) {
        putCustomer(batch, customer);
      } else if (op < 70) {
        long order = nextId++;
        orders.add(order);
        putOrder(batch, order, customer);
      } else if (op < 80 && !orders.isEmpty()) {
        putOrder(batch, orders.get(random.nextInt(orders.size())), customer);
      } else if (op < 90 && !orders.isEmpty()) {
        batch.delete(store.family("orders"), id(orders.remove(random.nextInt(orders.size()))));
      } else {
        for (long order : orders) {
          batch.delete(store.family("orders"), id(order));
        }
        batch.delete(store.family("customers"), id(customer));
        customers.remove(customer);
        ordersOf.remove(customer);
      }
    }
  }
}
