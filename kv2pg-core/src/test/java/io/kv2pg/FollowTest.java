package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * {@link Replication.Builder#follow}: a store that another RocksDB instance owns, followed as a
 * secondary instance, with mappings that name their column families; the store's folder is never
 * written, neither by a run nor by a refusal for missing WAL retention.
 */
class FollowTest {
  private static final Duration WAIT = Duration.ofSeconds(120);

  @TempDir Path dir;

  @Test
  void followsAStoreThatAnotherInstanceOwnsAndWrites() throws Exception {
    String url = TestPostgres.newDatabase();
    Path storeDir = dir.resolve("store");
    Path followerDir = dir.resolve("follower");
    try (TestStore store = TestStore.open(storeDir, "items", "others")) {
      for (long id = 0; id < 500; id++) {
        store.db.put(store.family("items"), key(id), value(id));
      }
      Replication replication = Replication.builder().postgres(url).name("followed")
          .follow(storeDir).followerDir(followerDir)
          .tree(itemsTable())
          .tree(TreeMapping.builder("others").table("others").keyColumn("id", Decoders.int64())
              .valueColumn("version", Decoders.int64()).build())
          .build();
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, WAIT, "after the copy");
        assertTablesEqualStore(url, store, "after the copy");
        try (WriteOptions options = new WriteOptions()) {
          for (long id = 0; id < 2_000; id++) {
            try (WriteBatch batch = new WriteBatch()) {
              batch.put(store.family("items"), key(id % 700), value(id + 1_000));
              batch.put(store.family("others"), key(id % 300), value(id));
              if (id % 7 == 0) {
                batch.delete(store.family("items"), key(id % 500));
              }
              store.db.write(options, batch);
            }
            if (id % 500 == 0) {
              store.db.flush(new org.rocksdb.FlushOptions().setWaitForFlush(true), store.family("items"));
            }
          }
        }
        Await.caughtUp(running, WAIT, "after the stream");
        assertThat(running.status().state()).isEqualTo(ReplicationState.STREAMING);
        assertTablesEqualStore(url, store, "after the stream");
        // Verification of a followed store, while the replication runs and the owner has it open.
        VerificationReport report = Verification.of(replication).run();
        assertThat(report.isClean()).as("%s", report.format()).isTrue();
        assertThat(report.tables()).hasSize(2);
        assertThat(TestPostgres.query(url, "select applied_sequence from kv2pg.replication where name = 'followed'"))
            .containsExactly(List.of(store.db.getLatestSequenceNumber()));
      }
      assertThat(Files.exists(followerDir)).as("a chosen follower folder is kept").isTrue();
    }
  }

  @Test
  void leavesAStoppedStoreByteForByteUnchanged() throws Exception {
    String url = TestPostgres.newDatabase();
    Path storeDir = dir.resolve("store");
    try (TestStore store = TestStore.open(storeDir, "items", "others")) {
      try (WriteOptions options = new WriteOptions()) {
        for (long id = 0; id < 3_000; id++) {
          store.db.put(store.family(id % 2 == 0 ? "items" : "others"), key(id % 1_000), value(id));
          if (id == 1_500) {
            store.db.flush(new org.rocksdb.FlushOptions().setWaitForFlush(true), store.family("items"));
          }
        }
      }
    }
    Map<String, String> before = StoreFiles.fingerprint(storeDir);
    Replication replication = Replication.builder().postgres(url).name("stopped").follow(storeDir)
        .tree(itemsTable()).build();
    List<Path> followersBefore = followerFolders();
    try (RunningReplication running = replication.start()) {
      Await.caughtUp(running, WAIT, "on a stopped store");
    }
    VerificationReport report = Verification.of(replication).run();
    assertThat(report.isClean()).as("%s", report).isTrue();
    assertThat(StoreFiles.fingerprint(storeDir)).as("the store's files after follow and verify").isEqualTo(before);
    try (TestStore store = TestStore.open(storeDir, "items", "others")) {
      assertTablesEqualStore(url, store, "on a stopped store", "items");
    }
    // A subset, not equal: another build on the machine may delete its own folders meanwhile.
    assertThat(followerFolders()).as("the temporary follower folders are deleted at stop")
        .isSubsetOf(followersBefore);
  }

  private static List<Path> followerFolders() throws java.io.IOException {
    try (var files = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
      return files.filter(path -> path.getFileName().toString().startsWith("kv2pg-follower-")).toList();
    }
  }

  @Test
  void refusesAStoreWithoutWalRetentionBeforeTouchingAnything() throws Exception {
    String url = TestPostgres.newDatabase();
    Path storeDir = dir.resolve("store");
    try (TestStore store = TestStore.openWithoutWalRetention(storeDir, "items")) {
      store.db.put(store.family("items"), key(1), value(1));
    }
    Map<String, String> before = StoreFiles.fingerprint(storeDir);
    Replication replication = Replication.builder().postgres(url).follow(storeDir).tree(itemsTable()).build();
    assertThatThrownBy(replication::start)
        .isInstanceOfSatisfying(ReplicationException.class,
            e -> assertThat(e.kind()).isEqualTo(ReplicationException.Kind.CONFIGURATION))
        .hasMessageContaining("WAL_ttl_seconds").hasMessageContaining("WAL_size_limit_MB")
        .hasMessageContaining(storeDir.toString());
    assertThat(StoreFiles.fingerprint(storeDir)).as("the store's files after the refusal").isEqualTo(before);
    assertThat(TestPostgres.query(url, "select count(*) from pg_namespace where nspname = 'kv2pg'"))
        .as("nothing in Postgres").containsExactly(List.of(0L));
    assertThat(TestPostgres.query(url, "select count(*) from pg_tables where tablename = 'items'"))
        .containsExactly(List.of(0L));
  }

  @Test
  void waitsForAColumnFamilyTheOwnerHasNotCreatedYet() throws Exception {
    String url = TestPostgres.newDatabase();
    Path storeDir = dir.resolve("store");
    try (TestStore store = TestStore.open(storeDir, "others")) {
      store.db.put(store.family("others"), key(1), value(1));
      Replication replication = Replication.builder().postgres(url).name("later").follow(storeDir)
          .tree(itemsTable()).build();
      try (RunningReplication running = replication.start()) {
        ReplicationStatus waiting = Await.status(running, WAIT, "waiting for the family",
            status -> status.waitingFor().isPresent());
        assertThat(waiting.state()).isEqualTo(ReplicationState.STARTING);
        assertThat(waiting.waitingFor().get()).contains("[items]").contains("waiting for its owner to create it");
        assertThat(running.awaitCaughtUp(Duration.ofMillis(100))).isFalse();

        ColumnFamilyHandle items = store.db.createColumnFamily(new ColumnFamilyDescriptor("items".getBytes()));
        try {
          for (long id = 0; id < 100; id++) {
            store.db.put(items, key(id), value(id));
          }
          Await.caughtUp(running, WAIT, "once the family exists");
          assertThat(running.status().state()).isEqualTo(ReplicationState.STREAMING);
          store.db.put(items, key(7), value(1_007));
          store.db.delete(items, key(8));
          Await.caughtUp(running, WAIT, "streaming the new family");
          List<String> expected = new java.util.ArrayList<>();
          try (org.rocksdb.RocksIterator it = store.db.newIterator(items)) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
              expected.add(ByteBuffer.wrap(it.key()).getLong() + "|" + ByteBuffer.wrap(it.value()).getLong());
            }
          }
          java.util.Collections.sort(expected);
          TableDiff.assertSameRows("the new family", "items", expected,
              TableDiff.tableRows(url, "select id, version from items"));
        } finally {
          running.stop();
          items.close();
        }
      }
    }
  }

  @Test
  void aMappedColumnFamilyDroppedByTheOwnerFailsClearly() throws Exception {
    String url = TestPostgres.newDatabase();
    Path storeDir = dir.resolve("store");
    try (TestStore store = TestStore.open(storeDir, "items")) {
      store.db.put(store.family("items"), key(1), value(1));
      Replication replication = Replication.builder().postgres(url).name("dropping").follow(storeDir)
          .tree(itemsTable()).build();
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, WAIT, "the copy");
        store.db.dropColumnFamily(store.family("items"));
        ReplicationException failure = Await.failure(running, WAIT);
        assertThat(failure.kind()).isEqualTo(ReplicationException.Kind.STORE);
        assertThat(failure.getMessage()).contains("Column family 'items' was dropped", "mapping 'items'",
            "kv2pg reset --mapping items");
      }
      assertThat(TestPostgres.query(url, "select id, version from items")).containsExactly(List.of(1L, 1L));
    }
  }

  @Test
  void stopsWhileWaitingForAColumnFamily() throws Exception {
    String url = TestPostgres.newDatabase();
    Path storeDir = dir.resolve("store");
    try (TestStore store = TestStore.open(storeDir, "others")) {
      store.db.put(store.family("others"), key(1), value(1));
    }
    Replication replication = Replication.builder().postgres(url).name("never").follow(storeDir)
        .tree(itemsTable()).build();
    RunningReplication running = replication.start();
    Await.status(running, WAIT, "waiting for the family", status -> status.waitingFor().isPresent());
    running.stop(Duration.ofSeconds(5));
    assertThat(running.status().state()).isEqualTo(ReplicationState.STOPPED);
    assertThat(running.status().waitingFor()).isEmpty();
  }

  private static TreeMapping itemsTable() {
    return TreeMapping.builder("items").table("items").keyColumn("id", Decoders.int64())
        .valueColumn("version", Decoders.int64()).build();
  }

  private static void assertTablesEqualStore(String url, TestStore store, String context) {
    assertTablesEqualStore(url, store, context, "items", "others");
  }

  private static void assertTablesEqualStore(String url, TestStore store, String context, String... tables) {
    for (String table : tables) {
      List<String> expected = TableDiff.storeRows(store, table, new byte[0],
          entry -> ByteBuffer.wrap(entry[0]).getLong() + "|" + ByteBuffer.wrap(entry[1]).getLong());
      TableDiff.assertSameRows(context, table, expected, TableDiff.tableRows(url, "select id, version from " + table));
    }
  }

  static byte[] key(long id) {
    return ByteBuffer.allocate(8).putLong(id).array();
  }

  static byte[] value(long version) {
    return ByteBuffer.allocate(8).putLong(version).array();
  }
}
