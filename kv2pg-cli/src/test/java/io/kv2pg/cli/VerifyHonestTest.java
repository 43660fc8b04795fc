package io.kv2pg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.kv2pg.TestPostgres;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code verify} never says OK about a table that a stopped replication has not brought up to
 * date, and never leaves its secondary instance's temporary folder behind.
 */
class VerifyHonestTest {
  @TempDir Path dir;
  OneTable table;

  @BeforeEach
  void synced() throws Exception {
    table = new OneTable(dir);
    table.write(0, 1_000, 100, "first");
    CliRun.Result sync = CliRun.run(table.env, "sync", "--config", table.config.toString());
    assertThat(sync.exitCode()).as(sync.toString()).isZero();
  }

  CliRun.Result verify(String... more) {
    return CliRun.run(table.env, Stream.concat(Stream.of("verify", "--config", table.config.toString()),
        Stream.of(more)).toArray(String[]::new));
  }

  @Test
  void caughtUpIsOk() {
    CliRun.Result verify = verify();
    assertThat(verify.exitCode()).as(verify.toString()).isZero();
    assertThat(verify.out()).contains("OK    items (mapping 'items'): 1000 store entries, 1000 rows\n")
        .contains("verify: the table of replication 'honest' equals the store\n")
        .doesNotContain("not compared").doesNotContain("1 tables");
  }

  @Test
  void aStoppedReplicationBehindTheStoreIsReportedBehindWithExitCode1UnlessAllowed() throws Exception {
    long applied = table.appliedSequence();
    long latest = table.write(500, 3_000, 100, "later"); // 500 updates and 2,000 new keys, not synced
    long behind = latest - applied;

    CliRun.Result verify = verify();
    assertThat(verify.exitCode()).as(verify.toString()).isEqualTo(1);
    assertThat(verify.out())
        .contains("BEHIND items (mapping 'items'): ")
        .contains("2500 not compared: written after the last sync")
        .contains(String.format(Locale.ROOT, "verify: replication 'honest' is not running and is %,d sequences"
            + " behind the store (it applied through sequence %,d, the store is at %,d)", behind, applied, latest))
        .contains("Run sync first")
        .doesNotContain("OK ").doesNotContain("equal");

    CliRun.Result allowed = verify("--allow-behind");
    assertThat(allowed.exitCode()).as(allowed.toString()).isZero();
    assertThat(allowed.out()).contains("OK    items (mapping 'items'): ")
        .contains("2500 not compared (written after the checkpoint)")
        .contains(String.format(Locale.ROOT, "verify: the table of replication 'honest' equals the store as of its"
            + " last commit (sequence %,d); it is not running and is %,d sequences behind the store, and the"
            + " 2,500 keys written since were not compared (--allow-behind)", applied, behind));

    assertThat(CliRun.run(table.env, "sync", "--config", table.config.toString()).exitCode()).isZero();
    CliRun.Result after = verify();
    assertThat(after.exitCode()).as(after.toString()).isZero();
    assertThat(after.out()).contains("OK    items (mapping 'items'): 3000 store entries, 3000 rows\n")
        .contains("verify: the table of replication 'honest' equals the store\n");
  }

  @Test
  void aDifferenceOfTheOnlyTableIsSaidInTheSingular() {
    TestPostgres.execute(table.url, "update items set v = 'changed' where id = 3");
    CliRun.Result verify = verify();
    assertThat(verify.exitCode()).as(verify.toString()).isEqualTo(1);
    assertThat(verify.out()).contains("DIFF  items (mapping 'items'): 1000 store entries, 1000 rows; 0 missing,"
        + " 0 extra, 1 different").contains("verify: the table of replication 'honest' differs from the store");
  }

  @Test
  void helpDocumentsTheNewOptionsAndExitCodes() {
    assertThat(CliRun.run("verify", "--help").out()).contains("--allow-behind").contains("BEHIND");
    assertThat(CliRun.run("sync", "--help").out()).contains("--timeout=DURATION").contains("130").contains("143")
        .contains("Ctrl-C");
  }

  // ---------------------------------------------------------------- the secondary instance's folder

  /** The temporary folders verify made in {@code tmp}. */
  static List<Path> secondaries(Path tmp) throws IOException {
    try (Stream<Path> files = Files.list(tmp)) {
      return files.filter(file -> file.getFileName().toString().startsWith("kv2pg-secondary-")).toList();
    }
  }

  @Test
  void aVerifyThatFailsLeavesNoSecondaryFolder() throws Exception {
    Path tmp = Files.createDirectories(dir.resolve("tmp"));
    // RocksDB cannot open a store whose MANIFEST is garbage...
    Path corrupt = Files.createDirectories(dir.resolve("corrupt"));
    Files.writeString(corrupt.resolve("CURRENT"), "MANIFEST-000099\n", StandardCharsets.UTF_8);
    Files.writeString(corrupt.resolve("MANIFEST-000099"), "not a manifest", StandardCharsets.UTF_8);
    assertFailsWithoutLeavingAFolder(corrupt, tmp, "as a secondary instance: ");
    // ... nor one whose CURRENT is not a file.
    Path unreadable = Files.createDirectories(dir.resolve("unreadable"));
    Files.createDirectories(unreadable.resolve("CURRENT"));
    assertFailsWithoutLeavingAFolder(unreadable, tmp, "CURRENT: Is a directory");
  }

  private void assertFailsWithoutLeavingAFolder(Path store, Path tmp, String message) throws Exception {
    Path config = dir.resolve(store.getFileName() + ".yaml");
    Files.writeString(config, Files.readString(table.config).replace("path: store", "path: " + store.getFileName()));
    try (ChildCli verify = ChildCli.start(table.env, tmp, "verify", "--config", config.toString())) {
      int code = verify.awaitExit(Duration.ofSeconds(60));
      assertThat(code).as(verify.output()).isEqualTo(2);
      assertThat(verify.output()).contains(message);
    }
    assertThat(secondaries(tmp)).as("folders left in %s", tmp).isEmpty();
  }

  @Test
  void aVerifyEndedBySigtermLeavesNoSecondaryFolder() throws Exception {
    Path tmp = Files.createDirectories(dir.resolve("tmp"));
    try (Connection lock = DriverManager.getConnection(table.url)) {
      // verify's read of the table waits for this lock: it is surely running when the signal comes.
      lock.setAutoCommit(false);
      try (Statement statement = lock.createStatement()) {
        statement.execute("lock table items in access exclusive mode");
      }
      try (ChildCli verify = ChildCli.start(table.env, tmp, "verify", "--config", table.config.toString())) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        String waiting = "select count(*) from pg_stat_activity where datname = current_database()"
            + " and wait_event_type = 'Lock' and pid <> pg_backend_pid()";
        while (secondaries(tmp).isEmpty()
            || ((Number) TestPostgres.query(table.url, waiting).get(0).get(0)).longValue() == 0) {
          assertThat(verify.process.isAlive()).as(verify.output()).isTrue();
          assertThat(System.nanoTime() - deadline).as("verify waits for the lock; output: %s", verify.output())
              .isNegative();
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
        verify.signal("TERM");
        int code = verify.awaitExit(Duration.ofSeconds(30));
        assertThat(code).as(verify.output()).isEqualTo(143);
      }
      lock.rollback();
    }
    assertThat(secondaries(tmp)).isEmpty();
  }
}
