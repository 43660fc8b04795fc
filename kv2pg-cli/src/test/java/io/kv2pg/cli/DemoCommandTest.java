package io.kv2pg.cli;

import io.kv2pg.TestPostgres;
import io.kv2pg.TestStore;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code kv2pg demo}, run for a few seconds: against its own embedded server, and against a given one. */
class DemoCommandTest {
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  @Test
  void demoStartsAnEmbeddedServerReplicatesQueriesAndVerifies() {
    CliRun.Result result = CliRun.run("demo", "--duration", "3s", "--rate", "150", "--orders", "1000");

    assertThat(result.exitCode()).as(result.toString()).isZero();
    assertThat(result.err()).isEmpty();
    assertThat(result.out())
        .contains("No --postgres given: starting an embedded PostgreSQL")
        .containsPattern("JDBC: jdbc:postgresql://localhost:\\d+/kv2pg_demo\\?user=postgres")
        .containsPattern("psql: psql -h localhost -p \\d+ -U postgres kv2pg_demo")
        .containsPattern("The initial copy: [\\d,]+ rows \\(customers [\\d,]+, orders [\\d,]+, order_lines [\\d,]+\\)")
        .contains("Best customers: a join of three tables")
        .contains("Orders by status: an aggregate")
        .contains("verify: the tables equal the store.")
        .doesNotContain("DIFF");
    for (String table : List.of("customers", "orders", "order_lines")) {
      assertThat(result.out()).containsPattern("OK    kv2pg_demo\\." + table + " \\(mapping '" + table + "'\\): [1-9]");
    }
    Matcher writes = Pattern.compile("Caught up: .*\\((\\d[\\d,]*) writes").matcher(result.out());
    assertThat(writes.find()).as(result.out()).isTrue();
    assertThat(Long.parseLong(writes.group(1).replace(",", ""))).isPositive();

    // The counts agree: the copy holds exactly the seeded entries, one row each, per table too.
    Matcher seeded = find(result, "Seeded (\\S+) entries: (\\S+) customers, (\\S+) orders and (\\S+) order lines,"
        + " one entry per row\\.");
    Matcher copied = find(result, "The initial copy: (\\S+) rows \\(customers (\\S+), orders (\\S+), order_lines (\\S+)\\)");
    for (int group = 1; group <= 4; group++) {
      assertThat(copied.group(group)).as(result.out()).isEqualTo(seeded.group(group));
    }
    Matcher applied = find(result, "Rows applied: (\\S+) = (\\S+) by the initial copy \\(one per entry at its snapshot\\)"
        + " \\+ (\\S+) streamed");
    assertThat(applied.group(2)).isEqualTo(seeded.group(1));
    assertThat(number(applied.group(1))).isEqualTo(number(applied.group(2)) + number(applied.group(3)));
    assertThat(number(applied.group(3))).isPositive();
    Matcher done = Pattern.compile("initial copy done in [\\d.]+ s: (\\S+) rows, one per entry").matcher(result.out());
    if (done.find()) { // Only when the display saw the copy run: a small one may be over before it looks.
      assertThat(done.group(1)).isEqualTo(seeded.group(1));
    }
    assertThat(result.out()).doesNotContain("rows applied so far");

    // The store and its config were temporary, and said so; no command suggested to run on them.
    Matcher config = find(result, "The replication's config \\(deleted at exit with the store; --db DIR keeps both\\): (\\S+)");
    assertThat(Path.of(config.group(1))).doesNotExist();
    assertThat(result.out()).doesNotContain("verify --config");
  }

  static Matcher find(CliRun.Result result, String regex) {
    Matcher matcher = Pattern.compile(regex).matcher(result.out());
    assertThat(matcher.find()).as(regex + " in\n" + result.out()).isTrue();
    return matcher;
  }

  static long number(String text) {
    return Long.parseLong(text.replace(",", ""));
  }

  /** The copy's progress counts the rows of a chunk that Postgres is receiving, before its commit. */
  @Test
  void copyRowsInFlightCountsTheRowsOfAnUncommittedCopy() throws Exception {
    String url = TestPostgres.newDatabase();
    PostgresTarget target = new PostgresTarget(url, null, "test");
    String name = "kv2pg-in-flight-test";
    java.util.Properties properties = new java.util.Properties();
    properties.setProperty("ApplicationName", name);
    try (CopyRowsInFlight inFlight = new CopyRowsInFlight(target, name);
        java.sql.Connection connection = java.sql.DriverManager.getConnection(url, properties)) {
      connection.setAutoCommit(false);
      try (java.sql.Statement statement = connection.createStatement()) {
        statement.execute("create table copied (id bigint)");
      }
      assertThat(inFlight.getAsLong()).isZero();
      org.postgresql.copy.CopyIn copy = connection.unwrap(org.postgresql.PGConnection.class).getCopyAPI()
          .copyIn("copy copied (id) from stdin");
      StringBuilder rows = new StringBuilder();
      for (int i = 0; i < 1000; i++) {
        rows.append(i).append('\n');
      }
      byte[] bytes = rows.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
      copy.writeToCopy(bytes, 0, bytes.length);
      copy.flushCopy();
      long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
      long seen = inFlight.getAsLong();
      while (seen < 1000 && System.nanoTime() < deadline) {
        java.util.concurrent.locks.LockSupport.parkNanos(java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(20));
        seen = inFlight.getAsLong();
      }
      assertThat(seen).isEqualTo(1000);
      copy.cancelCopy();
      connection.rollback();
    }
  }

  @Test
  void demoAgainstAGivenServerLeavesTablesThatEqualTheStore() throws Exception {
    String url = TestPostgres.newDatabase();
    Path store = dir.resolve("shop");
    java.util.Map<String, String> env = new java.util.HashMap<>(CliRun.passwordOf(url));
    env.put("KV2PG_COMMAND", "./kv2pg"); // as the launcher says it was run
    CliRun.Result result = CliRun.run(env, "demo", "--postgres", CliRun.withoutPassword(url),
        "--db", store.toString(), "--duration", "3s", "--rate", "200", "--orders", "500");

    assertThat(result.exitCode()).as(result.toString()).isZero();
    Path keptConfig = dir.resolve("shop.kv2pg.yaml");
    assertThat(result.out()).contains("The replication's config, kept next to the store: " + keptConfig)
        .contains("./kv2pg verify --config " + keptConfig).contains("./kv2pg sync --config " + keptConfig)
        .doesNotContainPattern("(?<!\\./)kv2pg (verify|status|sync) --config");
    assertThat(Files.readString(keptConfig)).contains("#   ./kv2pg verify --config THIS_FILE");
    assertThat(result.out()).contains("Using PostgreSQL at").doesNotContain("embedded")
        .contains("verify: the tables equal the store.");

    // Independently of kv2pg's own verification: every row, every column, against the kept store.
    List<List<Object>> customers = new ArrayList<>();
    List<List<Object>> orders = new ArrayList<>();
    List<List<Object>> lines = new ArrayList<>();
    try (TestStore opened = TestStore.open(store, DemoShop.CUSTOMERS, DemoShop.ORDERS, DemoShop.ORDER_LINES)) {
      for (byte[][] entry : opened.entries(DemoShop.CUSTOMERS, new byte[0])) {
        JsonNode value = JSON.readTree(entry[1]);
        customers.add(List.of(ByteBuffer.wrap(entry[0]).getLong(), value.get("name").asText(),
            value.get("email").asText(), value.get("country").asText()));
      }
      for (byte[][] entry : opened.entries(DemoShop.ORDERS, new byte[0])) {
        JsonNode value = JSON.readTree(entry[1]);
        orders.add(List.of(ByteBuffer.wrap(entry[0]).getLong(), value.get("customer_id").asLong(),
            value.get("status").asText(), value.get("created_at").asText(), value.get("shipping")));
      }
      for (byte[][] entry : opened.entries(DemoShop.ORDER_LINES, new byte[0])) {
        JsonNode value = JSON.readTree(entry[1]);
        ByteBuffer key = ByteBuffer.wrap(entry[0]);
        lines.add(List.of(key.getLong(), key.getInt(), value.get("product").asText(), value.get("qty").asInt(),
            new BigDecimal(value.get("unit_price").asText()).stripTrailingZeros().toPlainString()));
      }
    }
    assertThat(customers).isNotEmpty();
    assertThat(TestPostgres.query(url, "select id, name, email, country from kv2pg_demo.customers order by kv_key"))
        .isEqualTo(customers);
    List<List<Object>> actualOrders = new ArrayList<>();
    for (List<Object> row : TestPostgres.query(url,
        "select id, customer_id, status, created_at, shipping::text from kv2pg_demo.orders order by kv_key")) {
      List<Object> copy = new ArrayList<>(row);
      copy.set(4, JSON.readTree((String) row.get(4)));
      actualOrders.add(copy);
    }
    assertThat(actualOrders).isEqualTo(orders);
    List<List<Object>> actualLines = new ArrayList<>();
    for (List<Object> row : TestPostgres.query(url,
        "select order_id, line, product, qty, unit_price from kv2pg_demo.order_lines order by kv_key")) {
      List<Object> copy = new ArrayList<>(row);
      copy.set(4, ((BigDecimal) row.get(4)).stripTrailingZeros().toPlainString());
      actualLines.add(copy);
    }
    assertThat(actualLines).isEqualTo(lines);
    // The foreign keys the demo declares are there, deferrable.
    assertThat(TestPostgres.query(url, "select conname, condeferrable, condeferred from pg_constraint"
        + " where contype = 'f' and connamespace = 'kv2pg_demo'::regnamespace order by conname"))
        .containsExactly(List.of("order_lines_order_fk", true, true), List.of("orders_customer_fk", true, true));

    // The config file the demo wrote works with the other commands.
    Path config = dir.resolve("shop.kv2pg.yaml");
    assertThat(config).exists();
    CliRun.Result verify = CliRun.run(CliRun.passwordOf(url), "verify", "--config", config.toString());
    assertThat(verify.exitCode()).as(verify.toString()).isZero();
    CliRun.Result sync = CliRun.run(CliRun.passwordOf(url), "sync", "--config", config.toString());
    assertThat(sync.exitCode()).as(sync.toString()).isZero();
    assertThat(sync.out()).contains("sync: caught up");
    assertThat(Files.readString(config)).doesNotContain("password=");
  }
}
