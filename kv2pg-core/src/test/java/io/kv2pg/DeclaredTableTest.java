package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/** A declared table end to end: generated DDL, COPY initial copy, streaming, range deletes. */
class DeclaredTableTest {
  @TempDir Path dir;

  static byte[] key(long id) {
    return ByteBuffer.allocate(6 + 8).put("order:".getBytes(StandardCharsets.UTF_8)).putLong(id).array();
  }

  static byte[] order(long id, String customer, int qty, double price) {
    return ("{\"customer\":{\"name\":\"" + customer + "\"},\"qty\":" + qty + ",\"price\":" + price
        + ",\"tags\":[\"a\",\"" + id + "\"]}").getBytes(StandardCharsets.UTF_8);
  }

  static TreeMapping orders(ColumnFamilyHandle family) {
    return TreeMapping.builder(family)
        .prefix("order:".getBytes(StandardCharsets.UTF_8))
        .table("orders")
        .keyColumn("id", Decoders.int64())
        .valueColumn("customer", Decoders.jsonText("customer.name"))
        .valueColumn("qty", Decoders.jsonInt("qty"))
        .valueColumn("price", Decoders.jsonDouble("price"))
        .valueColumn("doc", Decoders.json())
        .build();
  }

  /** The expected table content, from the store: id, customer, qty, price. */
  static List<List<Object>> expected(TestStore store) {
    List<List<Object>> rows = new ArrayList<>();
    for (byte[][] entry : store.entries("data", "order:".getBytes(StandardCharsets.UTF_8))) {
      String json = new String(entry[1], StandardCharsets.UTF_8);
      String customer = json.replaceAll(".*\"name\":\"([^\"]*)\".*", "$1");
      int qty = Integer.parseInt(json.replaceAll(".*\"qty\":(\\d+).*", "$1"));
      double price = Double.parseDouble(json.replaceAll(".*\"price\":([0-9.]+).*", "$1"));
      rows.add(List.of(ByteBuffer.wrap(entry[0], 6, 8).getLong(), customer, qty, price));
    }
    return rows;
  }

  static List<List<Object>> actual(String url) {
    return TestPostgres.query(url, "select id, customer, qty, price from orders order by kv_key");
  }

  @Test
  void copiesStreamsAndVerifies() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      for (long id = 0; id < 30_000; id++) {
        store.db.put(data, key(id), order(id, "c" + (id % 7), (int) id % 100, id / 4.0));
      }
      store.db.put(data, "other:1".getBytes(StandardCharsets.UTF_8), "not json".getBytes(StandardCharsets.UTF_8));

      Replication replication = Replication.builder().postgres(url).source(store.db).name("declared")
          .tree(orders(data)).build();
      try (RunningReplication running = replication.start()) {
        assertThat(running.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
        assertThat(actual(url)).isEqualTo(expected(store));

        store.db.put(data, key(5), order(5, "new", 1, 2.5));
        store.db.delete(data, key(6));
        store.db.deleteRange(data, key(100), key(200));
        try (WriteBatch batch = new WriteBatch(); WriteOptions options = new WriteOptions()) {
          batch.put(data, key(150), order(150, "back", 3, 1.0)); // re-put inside the range, same batch
          batch.deleteRange(data, key(140), key(160));           // then removed again
          batch.put(data, key(155), order(155, "last", 4, 1.5)); // and one key put after the range
          for (long id = 1_000; id < 4_000; id++) {              // a large group: staged COPY path
            batch.put(data, key(id), order(id, "bulk", 9, 9.5));
          }
          store.db.write(options, batch);
        }
        assertThat(running.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
        assertThat(actual(url)).isEqualTo(expected(store));
        assertThat(TestPostgres.query(url, "select doc->'tags'->>1 from orders where id = 155"))
            .containsExactly(List.of("155"));

        VerificationReport report = Verification.of(replication).run();
        assertThat(report.isClean()).as(report.format()).isTrue();
        assertThat(report.tables().get(0).storeRows()).isEqualTo(expected(store).size());
      }
    }
  }

  @Test
  void aSchemaAndTableWhoseNamesHoldDotsAreDeclaredApart() throws Exception {
    String url = TestPostgres.newDatabase();
    TestPostgres.execute(url, "create schema \"shop.eu\"");
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      store.db.put(data, key(1), order(1, "a", 1, 1.0));
      Replication replication = Replication.builder().postgres(url).source(store.db).name("dotted")
          .tree(TreeMapping.builder(data)
              .prefix("order:".getBytes(StandardCharsets.UTF_8))
              .table("shop.eu", "orders.v2")
              .keyColumn("id", Decoders.int64())
              .valueColumn("qty", Decoders.jsonInt("qty"))
              .build())
          .build();
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, Duration.ofSeconds(60), "copy");
        store.db.put(data, key(2), order(2, "b", 7, 2.0));
        Await.caughtUp(running, Duration.ofSeconds(60), "stream");
      }
      assertThat(TestPostgres.query(url, "select id, qty from \"shop.eu\".\"orders.v2\" order by id"))
          .containsExactly(List.of(1L, 1), List.of(2L, 7));
    }
  }

  /** The schema of a declared table is created when it is missing, its name quoted as given. */
  @Test
  void aMissingSchemaIsCreatedWithTheTable() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      store.db.put(data, key(1), order(1, "a", 3, 1.0));
      Replication replication = Replication.builder().postgres(url).source(store.db).name("new-schema")
          .tree(TreeMapping.builder(data)
              .prefix("order:".getBytes(StandardCharsets.UTF_8))
              .table("New \"Shop\"", "orders")
              .keyColumn("id", Decoders.int64())
              .valueColumn("qty", Decoders.jsonInt("qty"))
              .build())
          .tree(TreeMapping.builder(data)
              .prefix("order:".getBytes(StandardCharsets.UTF_8))
              .name("plain")
              .table("fresh.orders")
              .keyColumn("id", Decoders.int64())
              .build())
          .build();
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, Duration.ofSeconds(60), "copy");
      }
      assertThat(TestPostgres.query(url, "select id, qty from \"New \"\"Shop\"\"\".orders"))
          .containsExactly(List.of(1L, 3));
      assertThat(TestPostgres.query(url, "select id from fresh.orders")).containsExactly(List.of(1L));
    }
  }

  /**
   * Upserts reach Postgres in key order, whatever order the application wrote them in: rows
   * inserted into an empty table lie in the heap (ctid order) sorted by key, for a group on the
   * staged COPY path and for a small one on the unnest path.
   */
  @Test
  void upsertsArriveInKeyOrder() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      Replication replication = Replication.builder().postgres(url).source(store.db).name("ordered")
          .tree(orders(data)).build();
      try (RunningReplication running = replication.start();
          WriteOptions options = new WriteOptions()) {
        assertThat(running.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
        List<Long> large = shuffledIds(0, 3_000, 1);
        List<Long> small = shuffledIds(10_000, 10_500, 2);
        for (List<Long> ids : List.of(large, small)) {
          try (WriteBatch batch = new WriteBatch()) {
            for (long id : ids) {
              batch.put(data, key(id), order(id, "c", 1, 1.0));
            }
            store.db.write(options, batch);
          }
          assertThat(running.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
        }
        List<Long> expected = new ArrayList<>(large);
        expected.sort(null);
        small.stream().sorted().forEach(expected::add);
        assertThat(TestPostgres.query(url, "select id from orders order by ctid").stream()
            .map(row -> (Long) row.get(0)).toList()).isEqualTo(expected);
        assertThat(actual(url)).isEqualTo(expected(store));
      }
    }
  }

  private static List<Long> shuffledIds(long from, long to, long seed) {
    List<Long> ids = new ArrayList<>();
    for (long id = from; id < to; id++) {
      ids.add(id);
    }
    java.util.Collections.shuffle(ids, new java.util.Random(seed));
    return ids;
  }

  @Test
  void droppedColumnFamilyFailsNamingTheTree() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      store.db.put(data, key(1), order(1, "a", 1, 1.0));
      Replication replication = Replication.builder().postgres(url).source(store.db).name("dropped")
          .tree(orders(data)).build();
      try (RunningReplication running = replication.start()) {
        assertThat(running.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
        store.db.dropColumnFamily(data);
        ReplicationStatus status = Await.state(running, Duration.ofSeconds(30), ReplicationState.FAILED);
        assertThat(status.state()).isEqualTo(ReplicationState.FAILED);
        assertThat(status.failure().orElseThrow().getMessage())
            .contains("Column family 'data' was dropped", "mapping 'data/6f726465723a'");
        assertThat(status.failure().orElseThrow().tree()).contains("data");
      }
      assertThat(actual(url)).containsExactly(List.of(1L, "a", 1, 1.0));
    }
  }
}
