package io.kv2pg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.kv2pg.TestPostgres;
import io.kv2pg.TestStore;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * A replication of one column family, {@code items} (8-byte id → UTF-8 text), into one table, for
 * the tests of stopping and verifying: the store, a fresh database and the config file.
 */
final class OneTable {
  static final String NAME = "honest";

  final Path store;
  final Path config;
  final String url;
  /** The environment the config's {@code password-env} reads. */
  final Map<String, String> env;

  OneTable(Path dir) throws Exception {
    url = TestPostgres.newDatabase();
    store = dir.resolve("store");
    config = dir.resolve("honest.yaml");
    String password = CliRun.passwordOf(url).get("PGPASSWORD");
    env = password == null ? Map.of() : Map.of("TEST_PG_PASSWORD", password);
    Files.writeString(config, """
        name: %s
        rocksdb:
          path: store
        postgres:
          url: "%s"
        %s
        tables:
          - column-family: items
            table: items
            key:
              id: int64
            values:
              v: utf8
        """.formatted(NAME, CliRun.withoutPassword(url), env.isEmpty() ? "" : "  password-env: TEST_PG_PASSWORD"));
  }

  /**
   * Writes ids {@code from} (inclusive) to {@code to} (exclusive) with values tagged {@code round},
   * in write batches of {@code perBatch}; returns the store's latest sequence.
   */
  long write(long from, long to, int perBatch, String round) throws Exception {
    try (TestStore opened = TestStore.open(store, "items"); WriteOptions options = new WriteOptions()) {
      for (long start = from; start < to; start += perBatch) {
        try (WriteBatch batch = new WriteBatch()) {
          for (long id = start; id < Math.min(to, start + perBatch); id++) {
            batch.put(opened.family("items"), ByteBuffer.allocate(8).putLong(id).array(),
                (round + " " + id).getBytes(StandardCharsets.UTF_8));
          }
          opened.db.write(options, batch);
        }
      }
      return opened.db.getLatestSequenceNumber();
    }
  }

  /** The store's latest sequence. */
  long latestSequence() throws Exception {
    try (TestStore opened = TestStore.open(store, "items")) {
      return opened.db.getLatestSequenceNumber();
    }
  }

  /** Asserts that the table holds exactly what the store holds: every key, every value. */
  void assertTableEqualsStore() throws Exception {
    List<List<Object>> expected = new ArrayList<>();
    try (TestStore opened = TestStore.open(store, "items")) {
      for (byte[][] entry : opened.entries("items", new byte[0])) {
        expected.add(List.of(ByteBuffer.wrap(entry[0]).getLong(), new String(entry[1], StandardCharsets.UTF_8),
            HexFormat.of().formatHex(entry[0])));
      }
    }
    assertThat(TestPostgres.query(url, "select id, v, encode(kv_key, 'hex') from items order by kv_key"))
        .isEqualTo(expected);
  }

  /** The checkpoint the database holds for the replication. */
  long appliedSequence() {
    return ((Number) TestPostgres.query(url, "select applied_sequence from kv2pg.replication where name = '"
        + NAME + "'").get(0).get(0)).longValue();
  }

  /**
   * Waits until no Postgres session of the CLI's replication is left: a process that ended at once
   * may leave a server process behind for a moment, and it holds the replication's lock.
   */
  void awaitSessionsGone(Duration timeout) {
    String sql = "select count(*) from pg_stat_activity where datname = current_database()"
        + " and application_name = 'kv2pg-" + NAME + "'";
    long deadline = System.nanoTime() + timeout.toNanos();
    while (((Number) TestPostgres.query(url, sql).get(0).get(0)).longValue() > 0) {
      assertThat(System.nanoTime() - deadline).as("sessions of kv2pg-%s gone within %s", NAME, timeout)
          .isNegative();
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
    }
  }

  /** Parses "stopped at sequence N, M behind" from the output: {N, M}. */
  static long[] stoppedAt(String output) {
    java.util.regex.Matcher matcher = java.util.regex.Pattern
        .compile("stopped at sequence ([\\d,]+), ([\\d,]+) behind").matcher(output);
    assertThat(matcher.find()).as("'stopped at sequence N, M behind' in:\n%s", output).isTrue();
    return new long[] {Long.parseLong(matcher.group(1).replace(",", "")),
        Long.parseLong(matcher.group(2).replace(",", ""))};
  }
}
