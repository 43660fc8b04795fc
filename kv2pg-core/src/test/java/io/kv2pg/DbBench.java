package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Debian's {@code rocksdb-tools} (C++ RocksDB 7.8: {@code db_bench}, {@code ldb}) as a primary that
 * no one here wrote. {@code .ci/run} installs the package, so the tests that use it always run.
 */
public final class DbBench {
  static final String DB_BENCH = "/usr/bin/db_bench";
  static final String LDB = "/usr/bin/ldb";

  private DbBench() {}

  /**
   * Starts a {@code db_bench} run against {@code storeDir} with WAL archiving on: small memtables
   * (many flushes and WAL rotations), writes rate-limited so that a follower overlaps them.
   *
   * @param fresh a first run ({@code fillrandom,overwrite,deleterandom} on a new store), or a
   *     restart of the primary on the existing store ({@code overwrite,deleterandom})
   */
  public static Process start(Path storeDir, boolean fresh, int num, Path log) throws IOException {
    assertThat(Path.of(DB_BENCH)).as("rocksdb-tools is installed (.ci/run installs it)").isExecutable();
    List<String> command = List.of(DB_BENCH,
        "--benchmarks=" + (fresh ? "fillrandom,overwrite,deleterandom" : "overwrite,deleterandom"),
        "--wal_ttl_seconds=3600", "--db=" + storeDir, "--num=" + num, "--use_existing_db=" + (fresh ? 0 : 1),
        "--write_buffer_size=262144", "--benchmark_write_rate_limit=2000000", "--seed=" + (fresh ? 1 : 2));
    return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  /** Waits for a run to end and asserts that it succeeded. */
  public static void awaitSuccess(Process run, Path log) throws Exception {
    assertThat(run.waitFor(300, TimeUnit.SECONDS)).as("db_bench ended").isTrue();
    assertThat(run.exitValue()).as("db_bench exit code; output: %s", tail(log)).isZero();
  }

  /**
   * Whether a first run's store has settled: db_bench opens the store, then destroys and creates
   * it again for {@code fillrandom} (a "fresh database" benchmark), so its files come and go until
   * that benchmark reports; {@code overwrite} and {@code deleterandom} then write the same store.
   */
  public static boolean settled(Path storeDir, Path log) {
    if (!Files.isDirectory(storeDir) || !Files.exists(storeDir.resolve("CURRENT"))) {
      return false;
    }
    try {
      return Files.readString(log).lines().anyMatch(line -> line.startsWith("fillrandom") && line.contains("micros/op"));
    } catch (IOException e) {
      return false;
    }
  }

  /** Every entry of the store's default column family as {@code keyhex|valuehex} (lower case), sorted, read by {@code ldb scan --hex}. */
  public static List<String> scan(Path storeDir) throws Exception {
    Process ldb = new ProcessBuilder(LDB, "--db=" + storeDir, "scan", "--hex").redirectErrorStream(true).start();
    String output = new String(ldb.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(ldb.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(ldb.exitValue()).as("ldb scan: %s", output).isZero();
    List<String> rows = new ArrayList<>();
    for (String line : output.split("\n")) {
      if (line.isBlank()) {
        continue;
      }
      String[] parts = line.split(" : ", 2);
      assertThat(parts).as("ldb line '%s'", line).hasSize(2);
      rows.add(hex(parts[0]) + "|" + hex(parts[1]));
    }
    Collections.sort(rows);
    return rows;
  }

  private static String hex(String ldbHex) {
    assertThat(ldbHex).startsWith("0x");
    return ldbHex.substring(2).toLowerCase(Locale.ROOT);
  }

  private static String tail(Path log) throws IOException {
    String text = Files.readString(log);
    return text.substring(Math.max(0, text.length() - 2_000));
  }
}
