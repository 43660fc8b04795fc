package io.kv2pg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.kv2pg.DbBench;
import io.kv2pg.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;

/**
 * {@code kv2pg follow} in a child process, following a store whose primary is Debian's {@code
 * db_bench} (C++ RocksDB 7.8) through a restart of the primary (a second run on the existing
 * store); SIGTERM stops it at the next commit with exit code 0, and the table equals what {@code
 * ldb scan --hex} reads from the store.
 */
class FollowCommandTest {
  private static final Duration WAIT = Duration.ofSeconds(180);

  @TempDir Path dir;

  @Test
  void followsDbBenchThroughARestartAndStopsOnSigterm() throws Exception {
    String url = TestPostgres.newDatabase();
    Map<String, String> password = CliRun.passwordOf(url);
    Map<String, String> env = password.get("PGPASSWORD") == null ? Map.of()
        : Map.of("TEST_PG_PASSWORD", password.get("PGPASSWORD"));
    Path storeDir = dir.resolve("bench");
    Path config = dir.resolve("bench.yaml");
    Files.writeString(config, """
        name: benchfollow
        rocksdb:
          path: bench
        postgres:
          url: "%s"
        %s
        tables:
          - column-family: default
            table: bench
            key:
              key: bytes
            values:
              value: bytes
        """.formatted(CliRun.withoutPassword(url), env.isEmpty() ? "" : "  password-env: TEST_PG_PASSWORD"));
    Path log = dir.resolve("db_bench.log");
    Process first = DbBench.start(storeDir, true, 20_000, log);
    Path tmp = Files.createDirectories(dir.resolve("tmp"));
    int port = LocalHttp.freePort();
    try (ChildCli follow = awaitStoreThenFollow(env, tmp, storeDir, log, config, "--metrics-port", String.valueOf(port))) {
      follow.awaitOutput(WAIT, "follow streams", output -> output.contains("follow: streaming"));
      assertThat(follow.output()).contains("metrics: serving http://127.0.0.1:" + port + "/metrics and /health");
      java.net.http.HttpResponse<String> health = LocalHttp.get(port, "/health");
      assertThat(health).as("/health of follow").isNotNull();
      assertThat(health.body()).contains("\"replication\":\"benchfollow\"").contains("\"state\":\"streaming\"");
      assertThat(LocalHttp.get(port, "/metrics").body())
          .contains("kv2pg_lag_seconds{replication=\"benchfollow\"}");
      DbBench.awaitSuccess(first, log);
      Path log2 = dir.resolve("db_bench-2.log");
      DbBench.awaitSuccess(DbBench.start(storeDir, false, 20_000, log2), log2);
      long latest = latestSequence(storeDir);
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (applied(url) < latest) {
        assertThat(System.nanoTime() - deadline).as("follow catches up with %d: %s", latest, follow.output())
            .isNegative();
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
      }
      follow.signal("TERM");
      int code = follow.awaitExit(Duration.ofSeconds(60));
      assertThat(code).as(follow.output()).isZero();
      assertThat(follow.output()).contains("kv2pg: SIGTERM: stopping follow at the next commit")
          .contains("follow: SIGTERM: stopped at sequence").contains("follow: stopped at sequence");
      assertThat(applied(url)).isEqualTo(latest);
    } finally {
      first.destroyForcibly();
    }
    List<String> expected = DbBench.scan(storeDir);
    List<String> actual = new ArrayList<>();
    for (List<Object> row : TestPostgres.query(url, "select key, value from bench")) {
      actual.add(HexFormat.of().formatHex((byte[]) row.get(0)) + "|" + HexFormat.of().formatHex((byte[]) row.get(1)));
    }
    actual.sort(null);
    assertThat(expected).hasSizeGreaterThan(1_000);
    assertThat(actual).as("the table against ldb scan").isEqualTo(expected);
  }

  private static ChildCli awaitStoreThenFollow(Map<String, String> env, Path tmp, Path storeDir, Path log,
      Path config, String... more) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!DbBench.settled(storeDir, log)) {
      assertThat(System.nanoTime() - deadline).as("db_bench settles its store").isNegative();
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
    }
    List<String> args = new ArrayList<>(List.of("follow", "--config", config.toString()));
    args.addAll(List.of(more));
    return ChildCli.start(env, tmp, args.toArray(String[]::new));
  }

  /** The store's latest sequence, read by a secondary instance of this test's own. */
  private static long latestSequence(Path storeDir) throws Exception {
    RocksDB.loadLibrary();
    Path secondary = Files.createTempDirectory(storeDir.getParent(), "probe");
    try (Options options = new Options().setMaxOpenFiles(-1);
        RocksDB db = RocksDB.openAsSecondary(options, storeDir.toString(), secondary.toString())) {
      db.tryCatchUpWithPrimary();
      return db.getLatestSequenceNumber();
    }
  }

  private static long applied(String url) {
    List<List<Object>> rows = TestPostgres.query(url,
        "select applied_sequence from kv2pg.replication where name = 'benchfollow'");
    return rows.isEmpty() || rows.get(0).get(0) == null ? 0 : ((Number) rows.get(0).get(0)).longValue();
  }
}
