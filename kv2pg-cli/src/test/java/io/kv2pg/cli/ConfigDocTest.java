package io.kv2pg.cli;

import io.kv2pg.TestPostgres;
import io.kv2pg.TestStore;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The complete example of docs/CONFIG.md is a working config. */
class ConfigDocTest {
  static final Path DOC = Path.of("..", "docs", "CONFIG.md");

  @TempDir Path dir;

  static String example() throws Exception {
    Matcher matcher = Pattern.compile("```yaml\\n(# shop.yaml\\n.*?)```", Pattern.DOTALL)
        .matcher(Files.readString(DOC));
    assertThat(matcher.find()).as("the complete example in " + DOC).isTrue();
    return matcher.group(1);
  }

  @Test
  void theCompleteExampleParsesAndSyncsAStoreOfThatShape() throws Exception {
    String url = TestPostgres.newDatabase();
    String yaml = example()
        .replace("/var/lib/shop/rocksdb", dir.resolve("store").toString())
        .replace("jdbc:postgresql://db.example.com:5432/shop?user=kv2pg&sslmode=require", CliRun.withoutPassword(url));
    Path config = dir.resolve("shop.yaml");
    Files.writeString(config, yaml);
    Map<String, String> env = Map.of("KV2PG_PASSWORD",
        CliRun.passwordOf(url).getOrDefault("PGPASSWORD", "unused-by-a-trusting-server"));

    ReplicationConfig parsed = ConfigLoader.load(config, env::get);
    assertThat(parsed.name()).isEqualTo("shop");
    assertThat(parsed.onGap()).isEqualTo(io.kv2pg.OnGap.RECOPY);
    assertThat(parsed.tables()).extracting(TableConfig::table).containsExactly("shop.customers", "shop.orders",
        "shop.order_lines", "shop.clicks", "shop.binary_events");
    assertThat(parsed.tables()).extracting(TableConfig::partitions).containsExactly(0, 0, 0, 8, 0);

    try (TestStore store = TestStore.open(dir.resolve("store"), "customers", "orders", "order_lines", "events")) {
      store.db.put(store.family("customers"), ByteBuffer.allocate(8).putLong(1).array(),
          "{\"name\":\"Ada\",\"email\":\"ada@example.com\",\"address\":{\"country\":\"GB\"}}".getBytes(StandardCharsets.UTF_8));
      store.db.put(store.family("orders"), ByteBuffer.allocate(8).putLong(10).array(),
          "{\"customer_id\":1,\"status\":\"paid\",\"total\":12.50,\"paid\":true}".getBytes(StandardCharsets.UTF_8));
      store.db.put(store.family("order_lines"), ByteBuffer.allocate(12).putLong(10).putInt(1).array(),
          "{\"product\":\"cup\",\"qty\":2,\"unit_price\":6.25}".getBytes(StandardCharsets.UTF_8));
      store.db.put(store.family("events"), ByteBuffer.allocate(14).put("click:".getBytes(StandardCharsets.UTF_8))
          .putLong(5 ^ Long.MIN_VALUE).array(), "https://example.com".getBytes(StandardCharsets.UTF_8));
      store.db.put(store.family("events"), new byte[] {(byte) 0xff, 0, 1}, new byte[] {9, 9, 7});
    }
    CliRun.Result sync = CliRun.run(env, "sync", "--config", config.toString());
    assertThat(sync.exitCode()).as(sync.toString()).isZero();
    assertThat(TestPostgres.query(url, "select id, name, email, country, profile->>'name' from shop.customers"))
        .containsExactly(List.of(1L, "Ada", "ada@example.com", "GB", "Ada"));
    assertThat(TestPostgres.query(url, "select id, customer_id, status, total::text, paid from shop.orders"))
        .containsExactly(List.of(10L, 1L, "paid", "12.50", true));
    assertThat(TestPostgres.query(url, "select order_id, line, product, qty, unit_price::text from shop.order_lines"))
        .containsExactly(List.of(10L, 1, "cup", 2, "6.25"));
    assertThat(TestPostgres.query(url, "select at, url from shop.clicks"))
        .containsExactly(List.of(5L, "https://example.com"));
    assertThat(TestPostgres.query(url, "select pg_get_partkeydef(partrelid), (select count(*) from pg_inherits"
        + " where inhparent = partrelid) from pg_partitioned_table")).containsExactly(List.of("HASH (at)", 8L));
    assertThat(TestPostgres.query(url, "select encode(raw_key, 'hex'), encode(payload, 'hex') from shop.binary_events"))
        .containsExactly(List.of("ff0001", "07"));
    assertThat(TestPostgres.query(url, "select conname from pg_constraint where conname = 'orders_customer_fk'"))
        .hasSize(1);
    CliRun.Result verify = CliRun.run(env, "verify", "--config", config.toString());
    assertThat(verify.exitCode()).as(verify.toString()).isZero();
  }

  @Test
  void theDecoderTableListsEveryDecoderTheLoaderKnows() throws Exception {
    String doc = Files.readString(DOC);
    Matcher rows = Pattern.compile("\\n\\| `([a-z0-9-]+)` \\| `[a-z ]+` \\|").matcher(doc);
    List<String> documented = rows.results().map(result -> result.group(1)).toList();
    Path bad = Files.writeString(dir.resolve("decoders.yaml"), """
        name: x
        rocksdb: {path: nowhere}
        postgres: {url: "jdbc:postgresql://localhost/x"}
        tables: [{column-family: c, table: t, values: {v: none}}]
        """);
    CliRun.Result unknown = CliRun.run("verify", "--config", bad.toString());
    Matcher known = Pattern.compile("known decoders: (.*)").matcher(unknown.err());
    assertThat(known.find()).as(unknown.toString()).isTrue();
    assertThat(documented).containsExactlyElementsOf(List.of(known.group(1).trim().split(", ")));
  }
}
