package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * A declared table that already exists is checked against the declaration at start: differences
 * fail the start, all listed; a nullable value column the declaration adds is added.
 */
class SchemaMismatchTest {
  static final Duration WAIT = Duration.ofSeconds(60);

  @TempDir Path dir;

  static byte[] key(String region, long id) {
    return ByteBuffer.allocate(2 + 2 + 8).put("o:".getBytes(StandardCharsets.UTF_8))
        .put(region.getBytes(StandardCharsets.UTF_8)).putLong(id).array();
  }

  static byte[] value(int qty, String name, Double price) {
    return ("{\"qty\":" + qty + ",\"name\":\"" + name + "\"" + (price == null ? "" : ",\"price\":" + price) + "}")
        .getBytes(StandardCharsets.UTF_8);
  }

  /** The declaration: key (region text, id bigint), values qty integer and the given extras. */
  static TreeMapping.Builder orders(ColumnFamilyHandle family, String table) {
    return TreeMapping.builder(family).prefix("o:".getBytes(StandardCharsets.UTF_8)).name("orders")
        .table(table)
        .keyColumn("region", Decoders.utf8At(0, 2))
        .keyColumn("id", Decoders.int64At(2))
        .valueColumn("qty", Decoders.jsonInt("qty"));
  }

  static final String MATCHING = "region text not null, id bigint not null, qty integer,"
      + " kv_key bytea not null unique, primary key (region, id)";

  static Stream<Arguments> mismatches() {
    return Stream.of(
        Arguments.of("different column type",
            "region text not null, id bigint not null, qty text, kv_key bytea not null unique,"
                + " primary key (region, id)",
            List.of("column \"qty\" is text but is declared integer")),
        Arguments.of("missing key column",
            "region text not null, qty integer, kv_key bytea not null unique, primary key (region)",
            List.of("column \"id\" (bigint) is missing",
                "the primary key is [region] but is declared [region, id]")),
        Arguments.of("different primary key order",
            "region text not null, id bigint not null, qty integer, kv_key bytea not null unique,"
                + " primary key (id, region)",
            List.of("the primary key is [id, region] but is declared [region, id]")),
        Arguments.of("primary key on the raw key",
            "region text not null, id bigint not null, qty integer, kv_key bytea primary key",
            List.of("the primary key is [kv_key] but is declared [region, id]")),
        Arguments.of("no primary key",
            "region text not null, id bigint not null, qty integer, kv_key bytea not null unique",
            List.of("the primary key is missing but is declared [region, id]")),
        Arguments.of("extra NOT NULL column without default",
            MATCHING + ", note text not null",
            List.of("column \"note\" is not declared, and is NOT NULL without a default")),
        Arguments.of("raw key not unique",
            "region text not null, id bigint not null, qty integer, kv_key bytea not null,"
                + " primary key (region, id)",
            List.of("column \"kv_key\" has no unique index")),
        Arguments.of("raw key missing",
            "region text not null, id bigint not null, qty integer, primary key (region, id)",
            List.of("column \"kv_key\" (bytea) is missing", "column \"kv_key\" has no unique index")),
        Arguments.of("everything at once",
            "region varchar(2) not null, qty text, kv_key bytea not null unique, note text not null,"
                + " primary key (region)",
            List.of("column \"region\" is character varying but is declared text",
                "column \"id\" (bigint) is missing",
                "column \"qty\" is text but is declared integer",
                "column \"note\" is not declared, and is NOT NULL without a default",
                "the primary key is [region] but is declared [region, id]")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("mismatches")
  void mismatchFailsTheStartListingEveryDifference(String what, String columns, List<String> differences)
      throws Exception {
    String url = TestPostgres.newDatabase();
    TestPostgres.execute(url, "create table orders (" + columns + ")");
    String before = describeTable(url, "orders");
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      store.db.put(data, key("eu", 1), value(1, "a", null));
      // The declaration also adds a nullable value column: with a mismatch, nothing is altered.
      TreeMapping mapping = orders(data, "orders").valueColumn("name", Decoders.jsonText("name")).build();
      Replication replication = Replication.builder().postgres(url).source(store.db).name("schema")
          .tree(mapping).build();
      try (RunningReplication running = replication.start()) {
        ReplicationException failure = Await.failure(running, WAIT);
        assertThat(failure.mapping()).hasValue("orders");
        assertThat(failure.getMessage()).startsWith("Table orders does not match mapping 'orders':");
        for (String difference : differences) {
          assertThat(failure.getMessage()).contains("\n  - " + difference);
        }
        // Exactly these differences, one line each.
        assertThat(failure.getMessage().split("\n  - ", -1)).hasSize(differences.size() + 1);
        assertThat(failure.getMessage()).contains("Alter the table (or drop it to let kv2pg create it)");
      }
      assertThat(describeTable(url, "orders")).isEqualTo(before);
      assertThat(TestPostgres.query(url, "select count(*) from orders")).containsExactly(List.of(0L));

      // Dropping the table lets kv2pg create it, and the same replication starts cleanly.
      TestPostgres.execute(url, "drop table orders");
      try (RunningReplication running = replication.start()) {
        assertThat(running.awaitCaughtUp(WAIT)).as("%s", running.status()).isTrue();
        assertThat(running.status().failure()).isEmpty();
        assertThat(TestPostgres.query(url, "select region, id, qty, name from orders order by kv_key"))
            .containsExactly(List.of("eu", 1L, 1, "a"));
      }
    }
  }

  @Test
  void addedNullableValueColumnIsAddedAndTheChangedMappingCopiedAgain() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      for (long id = 1; id <= 6; id++) {
        store.db.put(data, key("eu", id), value((int) id, "n" + id, id * 1.5));
      }
      Replication first = Replication.builder().postgres(url).source(store.db).name("schema")
          .tree(orders(data, "orders").build()).build();
      try (RunningReplication running = first.start()) {
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
      }
      assertThat(describeTable(url, "orders"))
          .isEqualTo("region text NO, id bigint NO, qty integer YES, kv_key bytea NO");

      store.db.put(data, key("eu", 2), value(20, "written while stopped", 2.25));

      Replication second = Replication.builder().postgres(url).source(store.db).name("schema")
          .tree(orders(data, "orders")
              .valueColumn("name", Decoders.jsonText("name"))
              .valueColumn("price", Decoders.jsonDouble("price"))
              .build())
          .build();
      try (RunningReplication running = second.start()) {
        assertThat(running.awaitCaughtUp(WAIT)).as("%s", running.status()).isTrue();
        assertThat(running.status().state()).isEqualTo(ReplicationState.STREAMING);
        assertThat(describeTable(url, "orders")).isEqualTo("region text NO, id bigint NO, qty integer YES,"
            + " kv_key bytea NO, name text YES, price double precision YES");

        store.db.put(data, key("eu", 4), value(40, "updated", null));
        store.db.put(data, key("us", 7), value(7, "new", 7.5));
        store.db.delete(data, key("eu", 6));
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertThat(running.status().failure()).isEmpty();
      }
      // The declaration changed, so the mapping was copied again: every row has the new columns.
      assertThat(TestPostgres.query(url, "select region, id, qty, name, price from orders order by kv_key"))
          .containsExactly(
              Arrays.asList("eu", 1L, 1, "n1", 1.5),
              Arrays.asList("eu", 2L, 20, "written while stopped", 2.25),
              Arrays.asList("eu", 3L, 3, "n3", 4.5),
              Arrays.asList("eu", 4L, 40, "updated", null),
              Arrays.asList("eu", 5L, 5, "n5", 7.5),
              Arrays.asList("us", 7L, 7, "new", 7.5));
      assertThat(TestPostgres.query(url, "select rows_copied, completed_at is not null from kv2pg.mapping_copy"))
          .containsExactly(List.of(6L, true));
    }
  }

  @Test
  void compatibleExistingTableIsUsedWithItsExtraColumns() throws Exception {
    String url = TestPostgres.newDatabase();
    TestPostgres.execute(url, "create schema app; create table app.orders (" + MATCHING
        + ", note text, created timestamptz not null default now(), version int not null default 7)");
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      for (long id = 0; id < 10; id++) {
        store.db.put(data, key("eu", id), value((int) id, "x", null));
      }
      TreeMapping mapping = orders(data, "app.orders")
          .createCommands("create index if not exists orders_qty on app.orders (qty)")
          .build();
      try (RunningReplication running = Replication.builder().postgres(url).source(store.db)
          .tree(mapping).build().start()) {
        assertThat(running.awaitCaughtUp(WAIT)).as("%s", running.status()).isTrue();
        try (WriteBatch batch = new WriteBatch(); WriteOptions options = new WriteOptions()) {
          for (long id = 5; id < 2_600; id++) { // large enough for the staged COPY path
            batch.put(data, key("us", id), value((int) id % 100, "y", null));
          }
          batch.put(data, key("eu", 3), value(33, "x", null));
          store.db.write(options, batch);
        }
        assertThat(running.awaitCaughtUp(WAIT)).as("%s", running.status()).isTrue();
      }
      List<List<Object>> expected = new ArrayList<>();
      for (byte[][] entry : store.entries("data", "o:".getBytes(StandardCharsets.UTF_8))) {
        ByteBuffer keyBuffer = ByteBuffer.wrap(entry[0]);
        String json = new String(entry[1], StandardCharsets.UTF_8);
        expected.add(Arrays.asList(new String(entry[0], 2, 2, StandardCharsets.UTF_8), keyBuffer.getLong(4),
            Integer.parseInt(json.replaceAll(".*\"qty\":(\\d+).*", "$1")), null, true, 7));
      }
      assertThat(expected).hasSize(10 + 2_595);
      assertThat(TestPostgres.query(url,
          "select region, id, qty, note, created is not null, version from app.orders order by kv_key"))
          .isEqualTo(expected);
      assertThat(TestPostgres.query(url, "select indexname from pg_indexes where tablename = 'orders'"
          + " and indexname = 'orders_qty'")).containsExactly(List.of("orders_qty"));
    }
  }

  /** The table's columns: name, type, nullable, in order. */
  static String describeTable(String url, String table) {
    List<String> columns = new ArrayList<>();
    for (List<Object> row : TestPostgres.query(url, "select column_name, data_type, is_nullable"
        + " from information_schema.columns where table_name = '" + table + "' order by ordinal_position")) {
      columns.add(row.get(0) + " " + row.get(1) + " " + row.get(2));
    }
    return String.join(", ", columns);
  }
}
