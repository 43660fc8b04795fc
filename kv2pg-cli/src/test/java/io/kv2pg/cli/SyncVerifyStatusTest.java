package io.kv2pg.cli;

import io.kv2pg.TestPostgres;
import io.kv2pg.TestStore;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kv2pg.Replication;
import io.kv2pg.RunningReplication;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/** sync, verify and status through the CLI's entry point, against a real store and a real Postgres. */
class SyncVerifyStatusTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final byte[] CLICK = "click:".getBytes(StandardCharsets.UTF_8);
  static final byte[] VIEW = "view:".getBytes(StandardCharsets.UTF_8);

  @TempDir Path dir;
  String url;
  Path store;
  Path config;
  Map<String, String> env;

  @BeforeEach
  void setUp() throws Exception {
    url = TestPostgres.newDatabase();
    store = dir.resolve("store");
    config = dir.resolve("replication.yaml");
    env = CliRun.passwordOf(url).isEmpty() ? Map.of() : Map.of("TEST_PG_PASSWORD",
        CliRun.passwordOf(url).get("PGPASSWORD"));
    Files.writeString(config, config("cli-test"));
  }

  /** A config with three tables, two of them reading one column family by prefix. */
  String config(String name) {
    return """
        name: %s
        rocksdb:
          path: store                  # relative to this file
        postgres:
          url: "%s"
        %s
        tables:
          - column-family: users
            table: users
            key:
              id: int64
            values:
              name: json-text
              age: json-int
              active: json-boolean
              doc: json
          - column-family: events
            prefix: "click:"
            table: app.clicks
            key:
              id: int64
            values:
              url: utf8
          - column-family: events
            prefix-hex: "766965773a"
            table: app.views
            raw-key-column: raw_key
            values:
              payload: bytes
        """.formatted(name, CliRun.withoutPassword(url),
        env.isEmpty() ? "" : "  password-env: TEST_PG_PASSWORD");
  }

  static byte[] id(long id) {
    return ByteBuffer.allocate(8).putLong(id).array();
  }

  static byte[] prefixed(byte[] prefix, long id) {
    return ByteBuffer.allocate(prefix.length + 8).put(prefix).putLong(id).array();
  }

  static byte[] user(long id, int age) {
    return ("{\"name\":\"user " + id + "\",\"age\":" + age + ",\"active\":" + (id % 2 == 0) + ",\"tags\":[" + id + "]}")
        .getBytes(StandardCharsets.UTF_8);
  }

  static void write(TestStore store, long from, long to, int age) throws Exception {
    try (WriteBatch batch = new WriteBatch(); WriteOptions options = new WriteOptions()) {
      for (long id = from; id < to; id++) {
        batch.put(store.family("users"), id(id), user(id, age));
        batch.put(store.family("events"), prefixed(CLICK, id), ("https://example.com/" + id).getBytes(StandardCharsets.UTF_8));
        batch.put(store.family("events"), prefixed(VIEW, id), new byte[] {(byte) id, 0, (byte) age});
      }
      store.db.write(options, batch);
    }
  }

  /** Asserts that every table holds exactly what the store holds, all rows, all columns. */
  void assertTablesEqualStore() throws Exception {
    List<List<Object>> users = new ArrayList<>();
    List<List<Object>> clicks = new ArrayList<>();
    List<List<Object>> views = new ArrayList<>();
    try (TestStore opened = TestStore.open(store, "users", "events")) {
      for (byte[][] entry : opened.entries("users", new byte[0])) {
        JsonNode value = JSON.readTree(entry[1]);
        users.add(List.of(ByteBuffer.wrap(entry[0]).getLong(), value.get("name").asText(), value.get("age").asInt(),
            value.get("active").asBoolean(), value, HexFormat.of().formatHex(entry[0])));
      }
      for (byte[][] entry : opened.entries("events", CLICK)) {
        clicks.add(List.of(ByteBuffer.wrap(entry[0], CLICK.length, 8).getLong(),
            new String(entry[1], StandardCharsets.UTF_8), HexFormat.of().formatHex(entry[0])));
      }
      for (byte[][] entry : opened.entries("events", VIEW)) {
        views.add(List.of(HexFormat.of().formatHex(entry[0]), HexFormat.of().formatHex(entry[1])));
      }
    }
    List<List<Object>> actualUsers = new ArrayList<>();
    for (List<Object> row : TestPostgres.query(url,
        "select id, name, age, active, doc::text, encode(kv_key, 'hex') from users order by kv_key")) {
      List<Object> copy = new ArrayList<>(row);
      copy.set(4, JSON.readTree((String) row.get(4)));
      actualUsers.add(copy);
    }
    assertThat(actualUsers).isEqualTo(users);
    assertThat(TestPostgres.query(url, "select id, url, encode(kv_key, 'hex') from app.clicks order by kv_key"))
        .isEqualTo(clicks);
    assertThat(TestPostgres.query(url,
        "select encode(raw_key, 'hex'), encode(payload, 'hex') from app.views order by raw_key")).isEqualTo(views);
  }

  @Test
  void syncCopiesThenCatchesUpAndVerifyAndStatusReportIt() throws Exception {
    try (TestStore opened = TestStore.open(store, "users", "events")) {
      write(opened, 0, 2_000, 30);
    }
    CliRun.Result first = CliRun.run(env, "sync", "--config", config.toString());
    assertThat(first.exitCode()).as(first.toString()).isZero();
    assertThat(first.out()).contains("sync: first run of this replication: copying the store")
        .contains("sync: caught up. Replication 'cli-test' has applied the store through sequence 6,000;"
            + " 6,000 rows written")
        .contains("sync: initial copy: 6,000 rows (users 2,000, events/636c69636b3a 2,000, events/766965773a 2,000)");
    assertTablesEqualStore();

    long latest;
    try (TestStore opened = TestStore.open(store, "users", "events")) {
      write(opened, 1_500, 2_500, 31);                                      // updates and inserts
      opened.db.delete(opened.family("users"), id(7));
      opened.db.deleteRange(opened.family("events"), prefixed(CLICK, 100), prefixed(CLICK, 200));
      opened.db.delete(opened.family("events"), prefixed(VIEW, 3));
      latest = opened.db.getLatestSequenceNumber();
    }
    CliRun.Result second = CliRun.run(env, "sync", "--config", config.toString());
    assertThat(second.exitCode()).as(second.toString()).isZero();
    assertThat(second.out()).contains("sync: resuming after sequence 6,000").contains("sync: caught up")
        .doesNotContain("initial copy");
    assertThat(second.out()).contains(String.format(java.util.Locale.ROOT, "through sequence %,d", latest));
    assertTablesEqualStore();
    assertThat(TestPostgres.query(url, "select applied_sequence from kv2pg.replication where name = 'cli-test'"))
        .containsExactly(List.of(latest));

    CliRun.Result verify = CliRun.run(env, "verify", "--config", config.toString());
    assertThat(verify.exitCode()).as(verify.toString()).isZero();
    assertThat(verify.out())
        .contains("OK    users (mapping 'users'): 2499 store entries, 2499 rows")
        .contains("OK    app.clicks")
        .contains("OK    app.views")
        .contains("verify: all 3 tables of replication 'cli-test' equal the store");

    CliRun.Result status = CliRun.run(CliRun.passwordOf(url), "status", "--postgres", CliRun.withoutPassword(url));
    assertThat(status.exitCode()).as(status.toString()).isZero();
    assertThat(status.out()).containsPattern("cli-test\\s+\\|\\s+stopped\\s+\\|\\s+"
        + String.format(java.util.Locale.ROOT, "%,d", latest).replace(",", "\\,") + "\\s+\\|\\s+\\d{4}-");
    assertThat(status.all()).doesNotContain("FAILED");
  }

  @Test
  void verifyReportsEveryKindOfDifferenceWithExitCode1() throws Exception {
    try (TestStore opened = TestStore.open(store, "users", "events")) {
      write(opened, 0, 100, 40);
    }
    assertThat(CliRun.run(env, "sync", "--config", config.toString()).exitCode()).isZero();
    TestPostgres.execute(url, """
        update users set age = 99 where id = 5;
        delete from users where id = 6;
        insert into users (id, name, age, active, doc, kv_key) values (1000, 'ghost', 1, true, '{}', '\\x00000000000003e8');
        delete from app.views where raw_key = '\\x766965773a0000000000000009';
        """);

    CliRun.Result verify = CliRun.run(env, "verify", "--config", config.toString());

    assertThat(verify.exitCode()).as(verify.toString()).isEqualTo(1);
    assertThat(verify.out())
        .contains("DIFF  users (mapping 'users'): 100 store entries, 100 rows; 1 missing, 1 extra, 1 different")
        .contains("OK    app.clicks")
        .contains("DIFF  app.views (mapping 'events/766965773a'): 100 store entries, 99 rows; 1 missing, 0 extra, 0 different")
        .contains("verify: 2 of 3 tables of replication 'cli-test' differ from the store");
    assertThat(verify.out()).contains("0000000000000005").contains("0000000000000006").contains("00000000000003e8");
  }

  @Test
  void verifyReadsAStoreThatTheApplicationHoldsAndWritesWhileItsReplicationRuns() throws Exception {
    ReplicationConfig parsed = ConfigLoader.load(config, env::get);
    try (TestStore opened = TestStore.open(store, "users", "events")) {
      write(opened, 0, 1_000, 20);
      Replication.Builder builder = Replication.builder().postgres(new PostgresTarget(url, null, "test")
          .dataSource("app")).source(opened.db).name("cli-test");
      TestPostgres.execute(url, "create schema app");
      parsed.mappings(opened.families()).forEach(builder::tree);
      AtomicBoolean writing = new AtomicBoolean(true);
      AtomicReference<Throwable> writerError = new AtomicReference<>();
      AtomicLong writes = new AtomicLong();
      try (RunningReplication running = builder.build().start()) {
        assertThat(running.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
        Thread writer = new Thread(() -> {
          try {
            for (long round = 0; writing.get(); round++) {
              write(opened, round % 1_000, round % 1_000 + 5, (int) (round % 90));
              writes.incrementAndGet();
            }
          } catch (Throwable t) {
            writerError.set(t);
          }
        });
        writer.start();
        CliRun.Result verify;
        try {
          verify = CliRun.run(env, "verify", "--config", config.toString());
        } finally {
          writing.set(false);
          writer.join();
        }
        assertThat(writerError.get()).isNull();
        assertThat(writes.get()).isPositive();
        assertThat(verify.exitCode()).as(verify.toString()).isZero();
        assertThat(verify.out()).contains("verify: all 3 tables of replication 'cli-test' equal the store");

        assertThat(running.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
        CliRun.Result status = CliRun.run(CliRun.passwordOf(url), "status", "--postgres", CliRun.withoutPassword(url));
        assertThat(status.exitCode()).as(status.toString()).isZero();
        assertThat(status.out()).containsPattern("cli-test\\s+\\|\\s+running\\s+\\|");
      }
    }
    assertTablesEqualStore();
  }

  @Test
  void syncThatFailsOnBadDataExitsWith1AndStatusShowsTheFailure() throws Exception {
    try (TestStore opened = TestStore.open(store, "users", "events")) {
      write(opened, 0, 10, 50);
      opened.db.put(opened.family("users"), id(4), "{not json".getBytes(StandardCharsets.UTF_8));
    }
    CliRun.Result sync = CliRun.run(env, "sync", "--config", config.toString());

    assertThat(sync.exitCode()).as(sync.toString()).isEqualTo(1);
    assertThat(sync.err()).startsWith("kv2pg: sync failed: ").contains("users").contains("0000000000000004");
    assertThat(sync.err().lines().count()).as(sync.err()).isEqualTo(1);

    CliRun.Result status = CliRun.run(CliRun.passwordOf(url), "status", "--postgres", CliRun.withoutPassword(url));
    assertThat(status.exitCode()).as(status.toString()).isEqualTo(1);
    assertThat(status.out()).containsPattern("cli-test\\s+\\|\\s+FAILED")
        .contains("Replication 'cli-test' FAILED at ").contains("0000000000000004");

    CliRun.Result empty = CliRun.run(CliRun.passwordOf(url), "status", "--postgres",
        CliRun.withoutPassword(TestPostgres.newDatabase()));
    assertThat(empty.exitCode()).as(empty.toString()).isZero();
    assertThat(empty.out()).contains("No kv2pg replication is recorded in");
  }
}
