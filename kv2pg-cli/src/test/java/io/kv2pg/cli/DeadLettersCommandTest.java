package io.kv2pg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.kv2pg.TestPostgres;
import io.kv2pg.TestStore;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * {@code on-data-error: dead-letter} in the config, {@code sync} going past a value that Postgres
 * refuses, {@code dead-letters} listing it, and {@code --retry} before and after the table is fixed.
 */
class DeadLettersCommandTest {
  @TempDir Path dir;

  @Test
  void syncSetsARefusedValueAsideAndRetryAppliesItOnceTheTableIsFixed() throws Exception {
    String url = TestPostgres.newDatabase();
    Map<String, String> env = CliRun.passwordOf(url);
    Path config = config(url, "dead-letter");
    write(Map.of(1L, "short", 2L, "short too"));
    assertThat(run(env, "sync", "--config", config.toString()).exitCode()).isZero();
    TestPostgres.execute(url, "alter table items add constraint short_values check (length(v) < 12)");

    write(Map.of(3L, "far too long for the check", 4L, "fine"));
    CliRun.Result sync = run(env, "sync", "--config", config.toString());
    assertThat(sync.exitCode()).as(sync.toString()).isZero();
    assertThat(sync.out()).contains("sync: 1 change(s) set aside as dead letters (on-data-error: dead-letter);"
        + " list them with: ").contains(" dead-letters --config " + config);
    assertThat(TestPostgres.query(url, "select id, v from items order by id")).containsExactly(
        List.of(1L, "short"), List.of(2L, "short too"), List.of(4L, "fine"));

    assertThat(run(env, "status", "--config", config.toString()).out())
        .contains("letters: 1 change(s) set aside as dead letters (list them with ");
    CliRun.Result list = run(env, "dead-letters", "--config", config.toString());
    assertThat(list.exitCode()).as(list.toString()).isZero();
    assertThat(list.out()).contains("dead-letters: replication 'letters' has 1:")
        .contains(HexFormat.of().formatHex(key(3))).contains("23514").contains("short_values");

    CliRun.Result stillRefused = run(env, "dead-letters", "--config", config.toString(), "--retry");
    assertThat(stillRefused.exitCode()).as(stillRefused.toString()).isEqualTo(Main.FOUND);
    assertThat(stillRefused.out()).contains("0 applied again and removed, 1 remain");

    TestPostgres.execute(url, "alter table items drop constraint short_values");
    CliRun.Result retried = run(env, "dead-letters", "--config", config.toString(), "--retry");
    assertThat(retried.exitCode()).as(retried.toString()).isZero();
    assertThat(retried.out()).contains("1 applied again and removed, 0 remain");
    assertThat(run(env, "dead-letters", "--config", config.toString()).out())
        .contains("dead-letters: replication 'letters' has none");
    assertThat(TestPostgres.query(url, "select id, v from items order by id")).containsExactly(
        List.of(1L, "short"), List.of(2L, "short too"), List.of(3L, "far too long for the check"),
        List.of(4L, "fine"));
  }

  @Test
  void anUnknownPolicyIsAConfigurationError() throws Exception {
    String url = TestPostgres.newDatabase();
    CliRun.Result result = run(CliRun.passwordOf(url), "sync", "--config", config(url, "skip").toString());
    assertThat(result.exitCode()).isEqualTo(Main.USAGE);
    assertThat(result.err()).contains("on-data-error").contains("must be one of fail, dead-letter, not 'skip'");
  }

  private static CliRun.Result run(Map<String, String> env, String... args) {
    return CliRun.run(env, args);
  }

  private Path config(String url, String onDataError) throws Exception {
    Path config = dir.resolve("letters.yaml");
    Files.writeString(config, """
        name: letters
        on-data-error: %s
        rocksdb:
          path: store
        postgres:
          url: "%s"
        tables:
          - column-family: items
            table: items
            key:
              id: int64
            values:
              v: utf8
        """.formatted(onDataError, CliRun.withoutPassword(url)));
    return config;
  }

  private void write(Map<Long, String> values) throws Exception {
    try (TestStore store = TestStore.open(dir.resolve("store"), "items"); WriteBatch batch = new WriteBatch();
        WriteOptions options = new WriteOptions()) {
      for (Map.Entry<Long, String> entry : values.entrySet()) {
        batch.put(store.family("items"), key(entry.getKey()), entry.getValue().getBytes(StandardCharsets.UTF_8));
      }
      store.db.write(options, batch);
    }
  }

  private static byte[] key(long id) {
    return ByteBuffer.allocate(8).putLong(id).array();
  }
}
