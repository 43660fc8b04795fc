package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * {@link TreeMapping.Builder#partitions(int)}: the declared table is created hash-partitioned, and
 * every path that writes or reads it works on it: the initial copy, small (unnest) and large
 * (staged COPY) upserts, deletes, range deletes, verification, repair and re-copies. An existing
 * table must be partitioned as declared; one partitioned by its owner is used as it is.
 */
class PartitionedTableTest {
  static final Duration WAIT = Duration.ofSeconds(60);
  static final HexFormat HEX = HexFormat.of();
  static final byte[] PREFIX = "o:".getBytes(StandardCharsets.UTF_8);
  static final String NAME = "partitioned";

  @TempDir Path dir;

  static byte[] key(long id) {
    return ByteBuffer.allocate(PREFIX.length + 8).put(PREFIX).putLong(id).array();
  }

  static byte[] value(long id, String customer, int qty) {
    return ("{\"customer\":\"" + customer + "\",\"qty\":" + qty + "}").getBytes(StandardCharsets.UTF_8);
  }

  static TreeMapping.Builder orders(ColumnFamilyHandle family) {
    return TreeMapping.builder(family).prefix(PREFIX).name("orders").table("orders")
        .keyColumn("id", Decoders.int64())
        .valueColumn("customer", Decoders.jsonText("customer"))
        .valueColumn("qty", Decoders.jsonInt("qty"));
  }

  /** The orders table and the store entries it must equal: id|customer|qty|raw key in hex. */
  static final TableDiff.Table ORDERS = new TableDiff.Table("orders",
      "select id, customer, qty, encode(kv_key, 'hex') from orders", "data", PREFIX, entry -> {
        String json = new String(entry[1], StandardCharsets.UTF_8);
        return ByteBuffer.wrap(entry[0], PREFIX.length, 8).getLong() + "|"
            + json.replaceAll(".*\"customer\":\"([^\"]*)\".*", "$1") + "|"
            + json.replaceAll(".*\"qty\":(-?\\d+).*", "$1") + "|" + HEX.formatHex(entry[0]);
      });

  static void assertOrdersMatchStore(String url, TestStore store, String context) {
    TableDiff.assertSameRows(context, "orders", ORDERS.storeRows(store), ORDERS.tableRows(url));
  }

  /**
   * Asserts that {@code table} is hash-partitioned by {@code keyDefinition} into exactly the
   * {@code count} partitions kv2pg names, of that modulus, and that at least two of them hold rows.
   */
  static void assertPartitioned(String url, String table, String keyDefinition, int count) {
    assertThat(TestPostgres.query(url, "select pg_get_partkeydef(partrelid) from pg_partitioned_table"
        + " where partrelid = '" + table + "'::regclass")).containsExactly(List.of(keyDefinition));
    List<List<Object>> partitions = TestPostgres.query(url, "select c.relname, pg_get_expr(c.relpartbound, c.oid)"
        + " from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = '" + table
        + "'::regclass order by c.relname");
    assertThat(partitions).hasSize(count);
    long nonEmpty = 0;
    for (int remainder = 0; remainder < count; remainder++) {
      String name = table + "_p" + remainder;
      assertThat(partitions).contains(List.of(name,
          "FOR VALUES WITH (modulus " + count + ", remainder " + remainder + ")"));
      nonEmpty += (Long) TestPostgres.query(url, "select count(*) from " + name).get(0).get(0) > 0 ? 1 : 0;
    }
    assertThat(nonEmpty).as("partitions of %s that hold rows", table).isGreaterThan(1);
  }

  @Test
  void everyPathWritesAndReadsAPartitionedTable() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data"); WriteOptions options = new WriteOptions()) {
      ColumnFamilyHandle data = store.family("data");
      for (long id = 0; id < 5_000; id++) {
        store.db.put(data, key(id), value(id, "c" + id % 7, (int) id));
      }
      Replication replication = Replication.builder().postgres(url).source(store.db).name(NAME)
          .copyChunkRows(700).tree(orders(data).partitions(4).build()).build();
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, WAIT, "initial copy");
        assertPartitioned(url, "orders", "HASH (id)", 4);
        assertOrdersMatchStore(url, store, "initial copy");
        assertThat(TestPostgres.query(url, "select pg_get_constraintdef(oid) from pg_constraint"
            + " where conrelid = 'orders'::regclass order by contype"))
            .containsExactly(List.of("PRIMARY KEY (id)"), List.of("UNIQUE (kv_key, id)"));

        // A small group (the unnest path): updates, new rows, a delete.
        try (WriteBatch batch = new WriteBatch()) {
          for (long id = 10; id < 20; id++) {
            batch.put(data, key(id), value(id, "small", -1));
          }
          batch.put(data, key(9_000), value(9_000, "new", 1));
          batch.delete(data, key(30));
          store.db.write(options, batch);
        }
        Await.caughtUp(running, WAIT, "small group");
        assertOrdersMatchStore(url, store, "small group");

        // A group above the staging threshold (COPY into a staging table like the partitioned one).
        try (WriteBatch batch = new WriteBatch()) {
          for (long id = 1_000; id < 3_500; id++) {
            batch.put(data, key(id), value(id, "bulk", 2));
          }
          for (long id = 10_000; id < 10_500; id++) {
            batch.put(data, key(id), value(id, "bulk-new", 3));
          }
          store.db.write(options, batch);
        }
        Await.caughtUp(running, WAIT, "large group");
        assertOrdersMatchStore(url, store, "large group");

        // Deletes, one large group of them, and range deletes (one reaching the prefix's end).
        try (WriteBatch batch = new WriteBatch()) {
          for (long id = 3_500; id < 6_000; id++) {
            batch.delete(data, key(id));
          }
          store.db.write(options, batch);
        }
        store.db.deleteRange(data, key(100), key(400));
        store.db.deleteRange(data, key(9_500), io.kv2pg.internal.change.KeyRanges.prefixEnd(PREFIX));
        Await.caughtUp(running, WAIT, "deletes");
        assertOrdersMatchStore(url, store, "deletes");
        assertThat(TestPostgres.query(url, "select count(*) from orders where id between 100 and 399 or id >= 9500"))
            .containsExactly(List.of(0L));
      }
      assertPartitioned(url, "orders", "HASH (id)", 4);

      VerificationReport clean = Verification.of(replication).run();
      assertThat(clean.isClean()).as(clean.format()).isTrue();
      assertThat(clean.tables().get(0).storeRows()).isEqualTo(ORDERS.storeRows(store).size());

      // Behind kv2pg's back, rows in different partitions: one changed, one deleted, one added.
      TestPostgres.execute(url, "update orders set qty = 999 where id = 1; delete from orders where id = 2;"
          + " insert into orders (id, customer, kv_key) values (7777, 'ghost', '\\x" + HEX.formatHex(key(7777)) + "')");
      VerificationReport dirty = Verification.of(replication).run();
      VerificationReport.TableResult orders = dirty.tables().get(0);
      assertThat(List.of(orders.missing(), orders.extra(), orders.different())).as(dirty.format())
          .containsExactly(1L, 1L, 1L);
      assertThat(orders.samples()).containsExactly(
          "key " + HEX.formatHex(key(1)) + ": qty: store '1', table '999'",
          "key " + HEX.formatHex(key(2)) + ": in the store, missing from the table",
          "key " + HEX.formatHex(key(7777)) + ": in the table, not in the store");

      RepairReport repair = Verification.of(replication).repair();
      assertThat(repair.tables()).containsExactly(new RepairReport.TableRepair("orders", "orders", 1, 1, 1, 0, 0));
      assertThat(repair.isClean()).as(repair.format()).isTrue();
      assertOrdersMatchStore(url, store, "after the repair");

      // A re-copy (after a reset) clears the partitioned table in the copy's transaction.
      TestPostgres.execute(url, "insert into orders (id, customer, kv_key) values (8888, 'stale', '\\x"
          + HEX.formatHex(key(8888)) + "')");
      store.db.put(data, key(42), value(42, "while stopped", 5));
      assertThat(ReplicationRecords.of(url).reset(NAME, "orders")).isTrue();
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, WAIT, "re-copy");
        assertOrdersMatchStore(url, store, "re-copy");
        assertPartitioned(url, "orders", "HASH (id)", 4);
      }
      assertThat(Verification.of(replication).run().isClean()).isTrue();
    }
  }

  /** With {@link OnGap#RECOPY}, a write the log does not hold is re-copied into the partitioned table. */
  @Test
  void aGapIsRecopiedIntoThePartitionedTable() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      for (long id = 0; id < 500; id++) {
        store.db.put(data, key(id), value(id, "c", (int) id));
      }
      Replication replication = Replication.builder().postgres(url).source(store.db).name(NAME)
          .onGap(OnGap.RECOPY).tree(orders(data).partitions(4).build()).build();
      try (RunningReplication running = replication.start();
          WriteOptions withoutWal = new WriteOptions().setDisableWAL(true)) {
        Await.caughtUp(running, WAIT, "initial copy");
        try (WriteBatch batch = new WriteBatch()) {
          batch.put(data, key(7), value(7, "without WAL", 70));
          batch.delete(data, key(8));
          store.db.write(withoutWal, batch);
        }
        store.db.put(data, key(600), value(600, "after", 6));
        Await.status(running, WAIT, "the gap re-copied", status -> status.gapsRecopied() == 1);
        Await.caughtUp(running, WAIT, "re-copy after the gap");
        assertOrdersMatchStore(url, store, "re-copy after the gap");
        store.db.put(data, key(601), value(601, "streamed", 7));
        Await.caughtUp(running, WAIT, "stream after the re-copy");
        assertOrdersMatchStore(url, store, "stream after the re-copy");
        assertThat(running.status().failure()).isEmpty();
      }
      assertPartitioned(url, "orders", "HASH (id)", 4);
    }
  }

  /**
   * Without key columns, the table is partitioned by the raw key, its primary key; a changed
   * mapping (a value column added) is copied again into the same partitioned table.
   */
  @Test
  void aTableWithoutKeyColumnsIsPartitionedByTheRawKey() throws Exception {
    String url = TestPostgres.newDatabase();
    TableDiff.Table items = new TableDiff.Table("items", "select encode(kv_key, 'hex'), encode(v, 'hex') from items",
        "data", PREFIX, entry -> HEX.formatHex(entry[0]) + "|" + HEX.formatHex(entry[1]));
    try (TestStore store = TestStore.open(dir, "data"); WriteOptions options = new WriteOptions()) {
      ColumnFamilyHandle data = store.family("data");
      for (long id = 0; id < 300; id++) {
        store.db.put(data, key(id), value(id, "c", (int) id));
      }
      TreeMapping mapping = TreeMapping.builder(data).prefix(PREFIX).name("items").table("items")
          .valueColumn("v", Decoders.bytes()).partitions(3).build();
      Replication replication = Replication.builder().postgres(url).source(store.db).name(NAME).tree(mapping).build();
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, WAIT, "initial copy");
        assertPartitioned(url, "items", "HASH (kv_key)", 3);
        TableDiff.assertSameRows("initial copy", "items", items.storeRows(store), items.tableRows(url));
        assertThat(TestPostgres.query(url, "select pg_get_constraintdef(oid) from pg_constraint"
            + " where conrelid = 'items'::regclass")).containsExactly(List.of("PRIMARY KEY (kv_key)"));

        try (WriteBatch batch = new WriteBatch()) {
          for (long id = 200; id < 2_500; id++) {
            batch.put(data, key(id), value(id, "bulk", 1));
          }
          store.db.write(options, batch);
        }
        store.db.put(data, key(5), value(5, "small", 2));
        store.db.delete(data, key(6));
        store.db.deleteRange(data, key(50), key(60));
        Await.caughtUp(running, WAIT, "stream");
        TableDiff.assertSameRows("stream", "items", items.storeRows(store), items.tableRows(url));
      }
      assertThat(Verification.of(replication).run().isClean()).isTrue();

      Replication changed = Replication.builder().postgres(url).source(store.db).name(NAME)
          .tree(TreeMapping.builder(data).prefix(PREFIX).name("items").table("items")
              .valueColumn("v", Decoders.bytes()).valueColumn("qty", Decoders.jsonInt("qty")).partitions(3).build())
          .build();
      try (RunningReplication running = changed.start()) {
        Await.caughtUp(running, WAIT, "re-copy of the changed mapping");
      }
      TableDiff.assertSameRows("re-copy", "items",
          TableDiff.storeRows(store, "data", PREFIX, entry -> HEX.formatHex(entry[0]) + "|"
              + new String(entry[1], StandardCharsets.UTF_8).replaceAll(".*\"qty\":(-?\\d+).*", "$1")),
          TableDiff.tableRows(url, "select encode(kv_key, 'hex'), qty from items"));
      assertPartitioned(url, "items", "HASH (kv_key)", 3);
    }
  }

  @Test
  void anExistingUnpartitionedTableFailsAMappingThatDeclaresPartitions() throws Exception {
    String url = TestPostgres.newDatabase();
    TestPostgres.execute(url, "create table orders (id bigint primary key, customer text, qty integer,"
        + " kv_key bytea not null unique)");
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      store.db.put(data, key(1), value(1, "a", 1));
      Replication replication = Replication.builder().postgres(url).source(store.db).name(NAME)
          .tree(orders(data).partitions(4).build()).build();
      try (RunningReplication running = replication.start()) {
        ReplicationException failure = Await.failure(running, WAIT);
        assertThat(failure.kind()).isEqualTo(ReplicationException.Kind.CONFIGURATION);
        assertThat(failure.mapping()).hasValue("orders");
        assertThat(failure.getMessage()).isEqualTo("Table orders does not match mapping 'orders':\n"
            + "  - the table is not partitioned but is declared with 4 partitions by HASH (id) (Postgres cannot"
            + " partition an existing table: drop it to let kv2pg create it, or declare no partitions)\n"
            + "Alter the table (or drop it to let kv2pg create it), or change the declaration.");
      }
      assertThat(TestPostgres.query(url, "select count(*) from orders")).containsExactly(List.of(0L));
    }
  }

  /**
   * A table its owner partitioned is used as it is without partitions declared; declared, its
   * partitions must have the declared modulus, and the missing ones are created.
   */
  @Test
  void aTablePartitionedByItsOwnerIsUsedAndCheckedAgainstTheDeclaration() throws Exception {
    String url = TestPostgres.newDatabase();
    TestPostgres.execute(url, "create table orders (id bigint not null, customer text, qty integer,"
        + " kv_key bytea not null, primary key (id), unique (kv_key, id)) partition by hash (id);"
        + " create table orders_even partition of orders for values with (modulus 2, remainder 0);"
        + " create table orders_odd partition of orders for values with (modulus 2, remainder 1)");
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      for (long id = 0; id < 100; id++) {
        store.db.put(data, key(id), value(id, "c", (int) id));
      }
      try (RunningReplication running = Replication.builder().postgres(url).source(store.db).name(NAME)
          .tree(orders(data).build()).build().start()) {
        Await.caughtUp(running, WAIT, "copy into the owner's partitions");
      }
      assertOrdersMatchStore(url, store, "owner's partitions");

      Replication declared = Replication.builder().postgres(url).source(store.db).name(NAME)
          .tree(orders(data).partitions(4).build()).build();
      try (RunningReplication running = declared.start()) {
        ReplicationException failure = Await.failure(running, WAIT);
        assertThat(failure.kind()).isEqualTo(ReplicationException.Kind.CONFIGURATION);
        assertThat(failure.getMessage()).contains(
            "\n  - partition orders_even is FOR VALUES WITH (modulus 2, remainder 0) but 4 partitions are"
                + " declared (modulus 4); to change the number of partitions, drop the table",
            "\n  - partition orders_odd is FOR VALUES WITH (modulus 2, remainder 1)");
      }

      TestPostgres.execute(url, "drop table orders; create table orders (id bigint not null, customer text,"
          + " qty integer, kv_key bytea not null, primary key (id), unique (kv_key, id)) partition by hash (id);"
          + " create table orders_p1 partition of orders for values with (modulus 4, remainder 1);"
          + " create table orders_p3 partition of orders for values with (modulus 4, remainder 3)");
      assertThat(ReplicationRecords.of(url).reset(NAME)).isTrue();
      try (RunningReplication running = declared.start()) {
        Await.caughtUp(running, WAIT, "copy after the missing partitions are created");
      }
      assertPartitioned(url, "orders", "HASH (id)", 4);
      assertOrdersMatchStore(url, store, "kv2pg's partitions added");

      // Partitions no longer declared: a changed mapping, copied again into the table as it is.
      TestPostgres.execute(url, "insert into orders (id, customer, kv_key) values (8888, 'stale', '\\x"
          + HEX.formatHex(key(8888)) + "')");
      try (RunningReplication running = Replication.builder().postgres(url).source(store.db).name(NAME)
          .tree(orders(data).build()).build().start()) {
        Await.caughtUp(running, WAIT, "re-copy of the mapping without partitions");
      }
      assertOrdersMatchStore(url, store, "re-copy without partitions declared");
      assertPartitioned(url, "orders", "HASH (id)", 4);
    }
  }

  /** A table partitioned otherwise than declared: by range, or by hash on another column. */
  @Test
  void aTablePartitionedOtherwiseFailsAMappingThatDeclaresPartitions() throws Exception {
    String url = TestPostgres.newDatabase();
    TestPostgres.execute(url, "create table orders (id bigint not null, customer text, qty integer,"
        + " kv_key bytea not null, primary key (id), unique (kv_key, id)) partition by range (id);"
        + " create table orders_all partition of orders for values from (minvalue) to (maxvalue);"
        + " create table items (kv_key bytea primary key, v bytea) partition by hash (kv_key);"
        + " create table items_one partition of items for values with (modulus 1, remainder 0)");
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      store.db.put(data, key(1), value(1, "a", 1));
      Replication replication = Replication.builder().postgres(url).source(store.db).name(NAME)
          .tree(orders(data).partitions(2).build()).build();
      try (RunningReplication running = replication.start()) {
        ReplicationException failure = Await.failure(running, WAIT);
        assertThat(failure.kind()).isEqualTo(ReplicationException.Kind.CONFIGURATION);
        assertThat(failure.getMessage()).isEqualTo("Table orders does not match mapping 'orders':\n"
            + "  - the table is partitioned by RANGE (id) but is declared partitioned by HASH (id)\n"
            + "Alter the table (or drop it to let kv2pg create it), or change the declaration.");
      }
      Replication items = Replication.builder().postgres(url).source(store.db).name(NAME)
          .tree(TreeMapping.builder(data).prefix(PREFIX).name("items").table("items").keyColumn("id", Decoders.int64())
              .valueColumn("v", Decoders.bytes()).partitions(1).build())
          .build();
      try (RunningReplication running = items.start()) {
        ReplicationException failure = Await.failure(running, WAIT);
        assertThat(failure.getMessage()).contains("\n  - column \"id\" (bigint) is missing",
            "\n  - the table is partitioned by HASH (kv_key) but is declared partitioned by HASH (id)\n");
      }
    }
  }

  /** Names that need quoting: the schema, the table, its partitions and the partition column. */
  @Test
  void quotedNamesArePartitionedToo() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      for (long id = 0; id < 50; id++) {
        store.db.put(data, key(id), value(id, "c", (int) id));
      }
      Replication replication = Replication.builder().postgres(url).source(store.db).name(NAME)
          .tree(TreeMapping.builder(data).prefix(PREFIX).name("orders").table("Shop \"EU\"", "Orders.v2")
              .keyColumn("Order Id", Decoders.int64()).valueColumn("qty", Decoders.jsonInt("qty"))
              .partitions(3).build())
          .build();
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, WAIT, "copy");
        store.db.put(data, key(7), value(7, "c", 700));
        store.db.delete(data, key(8));
        Await.caughtUp(running, WAIT, "stream");
      }
      String table = "\"Shop \"\"EU\"\"\".\"Orders.v2\"";
      TableDiff.assertSameRows("quoted names", table,
          TableDiff.storeRows(store, "data", PREFIX, entry -> ByteBuffer.wrap(entry[0], PREFIX.length, 8).getLong()
              + "|" + new String(entry[1], StandardCharsets.UTF_8).replaceAll(".*\"qty\":(-?\\d+).*", "$1")),
          TableDiff.tableRows(url, "select \"Order Id\", qty from " + table));
      assertThat(TestPostgres.query(url, "select c.relname, pg_get_partkeydef(i.inhparent) from pg_inherits i"
          + " join pg_class c on c.oid = i.inhrelid where i.inhparent = '" + table.replace("'", "''")
          + "'::regclass order by 1")).containsExactly(List.of("Orders.v2_p0", "HASH (\"Order Id\")"),
              List.of("Orders.v2_p1", "HASH (\"Order Id\")"), List.of("Orders.v2_p2", "HASH (\"Order Id\")"));
      assertThat(Verification.of(replication).run().isClean()).isTrue();
    }
  }

  /** The number of partitions is part of the declaration; an unpartitioned table's is as it was. */
  @Test
  void theNumberOfPartitionsIsInTheMappingsFingerprint() throws Exception {
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      String none = orders(data).build().plan(data).fingerprint();
      String two = orders(data).partitions(2).build().plan(data).fingerprint();
      String three = orders(data).partitions(3).build().plan(data).fingerprint();
      assertThat(List.of(none, two, three)).doesNotHaveDuplicates();
      assertThat(none).doesNotContain("partition")
          .contains("\"kv_key\" bytea not null unique, primary key (\"id\"))\n");
      assertThat(two).contains("\"kv_key\" bytea not null, unique (\"kv_key\", \"id\"), primary key (\"id\"))"
          + " partition by hash (\"id\")\npartitions: 2\n");
    }
  }
}
