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
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad configuration files, bad command lines, and stores or databases that cannot be used: exit
 * code 2 and one line naming the problem (the line and field, for a config file), never a password.
 */
class BadInputTest {
  @TempDir Path dir;
  Path store;
  String url;
  Map<String, String> env;

  @BeforeEach
  void setUp() throws Exception {
    store = dir.resolve("store");
    try (TestStore opened = TestStore.open(store, "users")) {
      opened.db.put(opened.family("users"), ByteBuffer.allocate(8).putLong(1).array(),
          "{\"name\":\"a\"}".getBytes(StandardCharsets.UTF_8));
    }
    url = TestPostgres.newDatabase();
    env = CliRun.passwordOf(url);
  }

  String valid() {
    return """
        name: bad-input
        rocksdb:
          path: store
        postgres:
          url: "%s"
        tables:
          - column-family: users
            table: users
            key:
              id: int64
            values:
              name: json-text
        """.formatted(CliRun.withoutPassword(url));
  }

  CliRun.Result sync(String config) throws Exception {
    Path file = dir.resolve("config.yaml");
    Files.writeString(file, config);
    return CliRun.run(env, "sync", "--config", file.toString());
  }

  static void assertOneLineError(CliRun.Result result, String... fragments) {
    assertThat(result.exitCode()).as(result.toString()).isEqualTo(2);
    assertThat(result.err().lines().toList()).as(result.toString()).hasSize(1);
    assertThat(result.err()).startsWith("kv2pg: ").contains(fragments);
  }

  @Test
  void theValidConfigWorks() throws Exception {
    CliRun.Result result = sync(valid());
    assertThat(result.exitCode()).as(result.toString()).isZero();
    assertThat(TestPostgres.query(url, "select id, name from users")).containsExactly(List.of(1L, "a"));
  }

  @Test
  void missingField() throws Exception {
    env = new java.util.HashMap<>(env);
    env.putIfAbsent("PGPASSWORD", "unused");
    CliRun.Result result = sync(valid().replace("  url: \"" + CliRun.withoutPassword(url) + "\"\n",
        "  password-env: PGPASSWORD\n"));
    assertOneLineError(result, "config.yaml", "line 5", "field postgres.url", "required field is missing");
  }

  /**
   * A key range: the store's first copy goes into a table that already holds another store's row,
   * which is left alone (without the range, the copy would replace the whole table).
   */
  @Test
  void aKeyRangeLeavesTheOtherStoresRows() throws Exception {
    TestPostgres.execute(url, "create table users (id bigint not null, name text, kv_key bytea not null unique,"
        + " primary key (id)); insert into users values (9, 'another store''s', '\\x0000000000000009')");
    CliRun.Result ranged = sync(valid().replace("    table: users\n",
        "    table: users\n    key-range: {from-hex: \"00\", until-hex: \"0000000000000009\"}\n"));
    assertThat(ranged.exitCode()).as(ranged.toString()).isZero();
    assertThat(TestPostgres.query(url, "select id, name from users order by id"))
        .containsExactly(List.of(1L, "a"), List.of(9L, "another store's"));
  }

  @Test
  void keyRangeMistakes() throws Exception {
    assertOneLineError(sync(valid().replace("    table: users\n", "    table: users\n    key-range: {until: b}\n")),
        "field tables[0].key-range.from", "required field is missing");
    assertOneLineError(sync(valid().replace("    table: users\n",
        "    table: users\n    key-range: {from: b, until: a}\n")), "field tables[0].key-range.until",
        "must come after from (62) but was 61");
    assertOneLineError(sync(valid().replace("    table: users\n",
        "    table: users\n    prefix: u\n    key-range: {from: a}\n")), "field tables[0].key-range.from",
        "must start with the prefix (75)");
    assertOneLineError(sync(valid().replace("    table: users\n",
        "    table: users\n    prefix: u\n    key-range: {from: ua, until: w}\n")),
        "field tables[0].key-range.until", "lies past the keys of the prefix (75)");
    assertOneLineError(sync(valid().replace("    table: users\n",
        "    table: users\n    key-range: {from: a, from-hex: \"61\"}\n")),
        "field tables[0].key-range.from-hex", "give either from or from-hex, not both");
    assertOneLineError(sync(valid().replace("    table: users\n",
        "    table: users\n    key-range: {from-hex: \"6\"}\n")),
        "field tables[0].key-range.from-hex", "even number of hex digits");
  }

  /** Every mistake of a file is reported at once, each on a line of its own, after a line that counts them. */
  @Test
  void threeMistakesAreAllReported() throws Exception {
    CliRun.Result result = sync(valid()
        .replace("name: bad-input", "name: bad input")
        .replace("name: json-text", "name: json-float")
        .replace("    table: users", "    table: users\n    colour: blue"));
    assertThat(result.exitCode()).as(result.toString()).isEqualTo(2);
    List<String> lines = result.err().lines().toList();
    assertThat(lines).as(result.toString()).hasSize(4);
    assertThat(lines.get(0)).isEqualTo("kv2pg: config " + dir.resolve("config.yaml") + " has 3 problems:");
    assertThat(lines.get(1)).startsWith("kv2pg: config ").contains("line 1, field name: must be 1 to 100 letters");
    assertThat(lines.get(2)).contains("line 9, field tables[0].colour: unknown field 'colour'");
    assertThat(lines.get(3)).contains("line 13, field tables[0].values.name: unknown decoder 'json-float'");
  }

  /** A table in a schema that does not exist: the schema is created (by the library, as for any declared table). */
  @Test
  void aTableInAMissingSchemaIsCreatedWithItsSchema() throws Exception {
    CliRun.Result result = sync(valid().replace("    table: users", "    table: fresh.users"));
    assertThat(result.exitCode()).as(result.toString()).isZero();
    assertThat(TestPostgres.query(url, "select id, name from fresh.users")).containsExactly(List.of(1L, "a"));
  }

  /** {@code partitions}: a table created hash-partitioned; a count out of range or too long a name is refused. */
  @Test
  void partitionsCreateAPartitionedTableAndTakeOnlyACountInRange() throws Exception {
    for (String bad : List.of("0", "1025", "many", "-3")) {
      assertOneLineError(sync(valid().replace("    table: users", "    table: users\n    partitions: " + bad)),
          "line 9", "field tables[0].partitions", "must be a whole number from 1 to 1024, but was '" + bad + "'");
    }
    String longName = "u".repeat(61);
    assertOneLineError(sync(valid().replace("    table: users", "    table: " + longName + "\n    partitions: 10")),
        "line 9", "field tables[0].partitions", "the partition name '" + longName + "_p9' is longer than"
            + " PostgreSQL's 63 bytes");
    assertThat(TestPostgres.query(url, "select count(*) from pg_class where relname = '" + longName + "'"))
        .containsExactly(List.of(0L));

    CliRun.Result result = sync(valid().replace("    table: users", "    table: users\n    partitions: 4"));
    assertThat(result.exitCode()).as(result.toString()).isZero();
    assertThat(TestPostgres.query(url, "select id, name from users")).containsExactly(List.of(1L, "a"));
    assertThat(TestPostgres.query(url, "select pg_get_partkeydef(partrelid) from pg_partitioned_table"
        + " where partrelid = 'users'::regclass")).containsExactly(List.of("HASH (id)"));
    assertThat(TestPostgres.query(url, "select count(*) from pg_inherits where inhparent = 'users'::regclass"))
        .containsExactly(List.of(4L));
  }

  @Test
  void missingTopLevelSection() throws Exception {
    CliRun.Result result = sync(valid().replace("rocksdb:\n  path: store\n", ""));
    assertOneLineError(result, "field rocksdb", "required field is missing");
  }

  @Test
  void unknownDecoder() throws Exception {
    CliRun.Result result = sync(valid().replace("name: json-text", "name: json-float"));
    assertOneLineError(result, "line 12", "field tables[0].values.name", "unknown decoder 'json-float'",
        "known decoders: int32, int64");
  }

  @Test
  void unknownField() throws Exception {
    CliRun.Result result = sync(valid().replace("    table: users", "    tabel: users"));
    assertOneLineError(result, "line 8", "field tables[0].tabel", "unknown field 'tabel'");
  }

  @Test
  void wrongTypes() throws Exception {
    assertOneLineError(sync(valid().replace("id: int64", "id: {decoder: int64, offset: eight}")),
        "line 10", "field tables[0].key.id.offset", "must be a whole number, 0 or more, but was 'eight'");
    assertOneLineError(sync(valid().substring(0, valid().indexOf("tables:")) + "tables: users\n"),
        "line 6", "field tables", "must be a list of tables");
    assertOneLineError(sync(valid().replace("  path: store", "  path: [store]")),
        "line 3", "field rocksdb.path", "must be a single value, not a list");
    assertOneLineError(sync(valid().replace("id: int64", "id: {decoder: int64, path: x}")),
        "line 10", "field tables[0].key.id.path", "decoder int64 takes only offset");
    assertOneLineError(sync(valid().replace("name: bad-input", "name: bad input")),
        "line 1", "field name", "letters, digits");
  }

  @Test
  void notYaml() throws Exception {
    assertOneLineError(sync(valid().replace("tables:", "tables: [")), "not valid YAML", "line ");
  }

  @Test
  void unknownColumnFamily() throws Exception {
    assertOneLineError(sync(valid().replace("column-family: users", "column-family: usres")),
        "line 7", "field tables[0].column-family", "has no column family 'usres' (it has: default, users)");
  }

  @Test
  void unreachableDatabase() throws Exception {
    Path passwordFile = dir.resolve("password");
    Files.writeString(passwordFile, "s3cret-Pa55word\n");
    CliRun.Result result = sync(valid()
        .replace(CliRun.withoutPassword(url), "jdbc:postgresql://127.0.0.1:1/nowhere?user=app")
        .replace("tables:", "  password-file: password\ntables:"));
    assertOneLineError(result, "cannot connect to PostgreSQL at jdbc:postgresql://127.0.0.1:1/nowhere?user=app",
        "line 5");
    assertThat(result.all()).doesNotContain("s3cret-Pa55word");

    CliRun.Result inline = sync(valid().replace(CliRun.withoutPassword(url),
        "jdbc:postgresql://127.0.0.1:1/nowhere?user=app&password=inline-Secret"));
    assertOneLineError(inline, "cannot connect to PostgreSQL at jdbc:postgresql://127.0.0.1:1/nowhere?user=app&password=***");
    assertThat(inline.all()).doesNotContain("inline-Secret");

    CliRun.Result status = CliRun.run(Map.of("PW", "env-Secret-1"), "status", "--postgres",
        "jdbc:postgresql://127.0.0.1:1/nowhere?user=app", "--password-env", "PW", "-v");
    assertThat(status.exitCode()).as(status.toString()).isEqualTo(2);
    assertThat(status.err()).startsWith("kv2pg: cannot connect to PostgreSQL at jdbc:postgresql://127.0.0.1:1/nowhere")
        .contains("\tat "); // -v: the stack trace follows
    assertThat(status.all()).doesNotContain("env-Secret-1");
  }

  @Test
  void missingPasswordSources() throws Exception {
    assertOneLineError(sync(valid().replace("tables:", "  password-env: KV2PG_NO_SUCH_VARIABLE\ntables:")),
        "line 6", "field postgres.password-env", "KV2PG_NO_SUCH_VARIABLE is not set");
    assertOneLineError(sync(valid().replace("tables:", "  password-file: nothing-here\ntables:")),
        "line 6", "field postgres.password-file", "does not exist");
  }

  @Test
  void storeInUseIsReadAsASecondaryInstance() throws Exception {
    try (TestStore application = TestStore.open(store, "users")) {
      CliRun.Result result = sync(valid());
      assertThat(result.exitCode()).as(result.toString()).isZero();
      assertThat(result.out()).contains("sync: caught up");
    }
  }

  @Test
  void storeMissing() throws Exception {
    assertOneLineError(sync(valid().replace("path: store", "path: no-store-here")),
        "there is no RocksDB store at " + dir.resolve("no-store-here"), "rocksdb.path", "line 3");
  }

  @Test
  void storePathIsAFile() throws Exception {
    Files.writeString(dir.resolve("a-file"), "not a store");
    CliRun.Result result = sync(valid().replace("path: store", "path: a-file"));
    assertOneLineError(result, "there is no RocksDB store at " + dir.resolve("a-file"), "it is a file, not a folder",
        "rocksdb.path", "line 3");
    assertThat(result.err()).doesNotContain("does not exist");
  }

  @Test
  void storeWithoutWalRetention() throws Exception {
    Path bare = dir.resolve("bare");
    try (TestStore opened = TestStore.openWithoutWalRetention(bare, "users")) {
      opened.db.put(opened.family("users"), ByteBuffer.allocate(8).putLong(1).array(), "{}".getBytes(StandardCharsets.UTF_8));
    }
    CliRun.Result result = sync(valid().replace("path: store", "path: bare"));
    assertThat(result.exitCode()).as(result.toString()).isEqualTo(2);
    assertThat(result.err()).contains("deletes write-ahead log files").contains("setWalTtlSeconds");
  }

  @Test
  void configFileMissing() {
    assertOneLineError(CliRun.run("verify", "--config", dir.resolve("none.yaml").toString()),
        "config file " + dir.resolve("none.yaml") + " does not exist");
  }

  @Test
  void usageErrorsAndHelp() {
    CliRun.Result noConfig = CliRun.run("sync");
    assertThat(noConfig.exitCode()).isEqualTo(2);
    assertThat(noConfig.err()).contains("Missing required option: '--config=FILE'");

    CliRun.Result unknown = CliRun.run("verify", "--config", "x.yaml", "--colour");
    assertThat(unknown.exitCode()).isEqualTo(2);
    assertThat(unknown.err()).contains("Unknown option: '--colour'");

    CliRun.Result none = CliRun.run();
    assertThat(none.exitCode()).isEqualTo(2);
    assertThat(none.err()).contains("a command is required");

    CliRun.Result badCommand = CliRun.run("sink");
    assertThat(badCommand.exitCode()).isEqualTo(2);
    assertThat(badCommand.err()).contains("Unmatched argument at index 0: 'sink'");

    CliRun.Result statusBoth = CliRun.run("status", "--postgres", "jdbc:postgresql://x/y", "--config", "c.yaml");
    assertThat(statusBoth.exitCode()).isEqualTo(2);
    assertThat(statusBoth.err()).contains("mutually exclusive");

    CliRun.Result badDuration = CliRun.run("demo", "--duration", "soon");
    assertThat(badDuration.exitCode()).isEqualTo(2);
    assertThat(badDuration.err()).contains("'soon' is not a duration");

    for (String command : List.of("demo", "sync", "verify", "status")) {
      CliRun.Result help = CliRun.run(command, "--help");
      assertThat(help.exitCode()).as(command).isZero();
      assertThat(help.out()).as(command).contains("Usage: kv2pg " + command).contains("Exit codes: 0");
    }
    CliRun.Result help = CliRun.run("--help");
    assertThat(help.exitCode()).isZero();
    assertThat(help.out()).contains("demo").contains("sync").contains("verify").contains("status");
  }
}
