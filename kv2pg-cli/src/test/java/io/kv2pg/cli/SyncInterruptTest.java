package io.kv2pg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.Locale;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code sync} stopped by Ctrl-C, SIGTERM or {@code --timeout} while it works off a large backlog:
 * it stops at its next commit (not after the backlog), says where, exits with 130, 143 or 1, and the
 * next sync resumes there and makes the table equal the store. The signals go to a real child
 * process running the CLI.
 */
class SyncInterruptTest {
  /** Enough writes that applying them takes many seconds on any machine. */
  static final int BACKLOG = 400_000;

  @TempDir Path dir;
  OneTable table;
  long latest;

  @BeforeEach
  void firstSyncThenABacklog() throws Exception {
    table = new OneTable(dir);
    table.write(0, 1_000, 100, "first");
    CliRun.Result first = CliRun.run(table.env, "sync", "--config", table.config.toString());
    assertThat(first.exitCode()).as(first.toString()).isZero();
    latest = table.write(0, BACKLOG, 200, "second");
  }

  /** A sync in a child process, once it has started to apply the backlog. */
  ChildCli streamingSync(String... more) throws Exception {
    Path tmp = Files.createDirectories(dir.resolve("tmp"));
    String[] args = new String[3 + more.length];
    args[0] = "sync";
    args[1] = "--config";
    args[2] = table.config.toString();
    System.arraycopy(more, 0, args, 3, more.length);
    ChildCli sync = ChildCli.start(table.env, tmp, args);
    sync.awaitOutput(Duration.ofSeconds(60), "sync streams the backlog",
        output -> output.contains("streaming the store's write-ahead log"));
    return sync;
  }

  /** The next sync resumes where the stopped one says it stopped and makes the table equal the store. */
  void nextSyncResumesAt(long stoppedAt) throws Exception {
    table.awaitSessionsGone(Duration.ofSeconds(30));
    assertThat(table.appliedSequence()).isEqualTo(stoppedAt);
    CliRun.Result again = CliRun.run(table.env, "sync", "--config", table.config.toString());
    assertThat(again.exitCode()).as(again.toString()).isZero();
    assertThat(again.out()).contains(String.format(Locale.ROOT, "sync: resuming after sequence %,d", stoppedAt))
        .contains(String.format(Locale.ROOT, "through sequence %,d", latest));
    table.assertTableEqualsStore();
  }

  @ParameterizedTest(name = "SIG{0} -> exit {1}")
  @CsvSource({"INT, 130", "TERM, 143"})
  void aSignalStopsAtTheNextCommitSaysWhereAndTheNextSyncResumes(String signal, int exitCode) throws Exception {
    long[] stopped;
    long millis;
    try (ChildCli sync = streamingSync("--plain")) {
      long sent = System.nanoTime();
      sync.signal(signal);
      int code = sync.awaitExit(Duration.ofSeconds(60));
      millis = (System.nanoTime() - sent) / 1_000_000;
      String output = sync.output();
      assertThat(code).as(output).isEqualTo(exitCode);
      assertThat(output).contains("kv2pg: SIG" + signal + ": stopping sync at the next commit")
          .contains("sync: SIG" + signal + ": stopped at sequence ")
          .contains("behind; run sync again to resume")
          .doesNotContain("caught up");
      stopped = OneTable.stoppedAt(output);
    }
    System.out.printf("SIG%s: exit after %d ms, stopped at %d, %d behind%n", signal, millis, stopped[0], stopped[1]);
    assertThat(stopped[1]).as("sequences left behind").isPositive();
    assertThat(stopped[0] + stopped[1]).as("applied + behind = the store's latest").isEqualTo(latest);
    // It ended at a commit, long before the backlog could have been applied.
    assertThat(stopped[0]).isLessThan(latest);
    assertThat(millis).as("milliseconds from the signal to the exit").isLessThan(20_000);
    nextSyncResumesAt(stopped[0]);
  }

  @Test
  void aSecondCtrlCEndsAtOnceWhileTheFirstWaitsForACommit() throws Exception {
    try (ChildCli sync = streamingSync("--plain");
        Connection lock = DriverManager.getConnection(table.url)) {
      // The writer's next statement waits for this lock, so the first Ctrl-C waits for its commit.
      lock.setAutoCommit(false);
      try (Statement statement = lock.createStatement()) {
        statement.execute("lock table items in access exclusive mode");
      }
      sync.signal("INT");
      sync.awaitOutput(Duration.ofSeconds(30), "the first Ctrl-C's answer",
          output -> output.contains("kv2pg: SIGINT: stopping sync at the next commit"));
      long sent = System.nanoTime();
      sync.signal("INT");
      int code = sync.awaitExit(Duration.ofSeconds(30));
      long millis = (System.nanoTime() - sent) / 1_000_000;
      assertThat(code).as(sync.output()).isEqualTo(130);
      assertThat(sync.output()).contains("kv2pg: SIGINT again: ending now").contains("Nothing is lost");
      // Well before the first stop's 10 s wait for the commit would have run out.
      assertThat(millis).as("milliseconds from the second Ctrl-C to the exit").isLessThan(8_000);
      lock.rollback();
    }
    nextSyncResumesAt(table.appliedSequence());
  }

  @Test
  void timeoutStopsAtTheNextCommitWithExitCode1AndTheNextSyncResumes() throws Exception {
    CliRun.Result sync = CliRun.run(table.env, "sync", "--config", table.config.toString(), "--timeout", "1s");

    assertThat(sync.exitCode()).as(sync.toString()).isEqualTo(1);
    assertThat(sync.err()).startsWith("kv2pg: sync did not catch up within 1s: stopped at sequence ")
        .contains("the next sync resumes there");
    assertThat(sync.err().lines().count()).as(sync.err()).isEqualTo(1);
    assertThat(sync.out()).doesNotContain("caught up");
    long[] stopped = OneTable.stoppedAt(sync.err());
    assertThat(stopped[1]).as("sequences left behind").isPositive();
    assertThat(stopped[0] + stopped[1]).isEqualTo(latest);
    nextSyncResumesAt(stopped[0]);

    CliRun.Result bad = CliRun.run(table.env, "sync", "--config", table.config.toString(), "--timeout", "soon");
    assertThat(bad.exitCode()).as(bad.toString()).isEqualTo(2);
    assertThat(bad.err()).contains("'soon' is not a duration");
  }

  @Test
  void ctrlCStopsTheDemoAtTheNextCommitWithExitCode130() throws Exception {
    String url = io.kv2pg.TestPostgres.newDatabase();
    Path tmp = Files.createDirectories(dir.resolve("demo-tmp"));
    try (ChildCli demo = ChildCli.start(CliRun.passwordOf(url), tmp, "demo", "--postgres",
        CliRun.withoutPassword(url), "--db", dir.resolve("demo-store").toString(), "--duration", "10m",
        "--rate", "200", "--orders", "1000", "--plain")) {
      demo.awaitOutput(Duration.ofSeconds(60), "the demo streams",
          output -> output.contains("streaming the store's write-ahead log"));
      long sent = System.nanoTime();
      demo.signal("INT");
      int code = demo.awaitExit(Duration.ofSeconds(60));
      long millis = (System.nanoTime() - sent) / 1_000_000;
      assertThat(code).as(demo.output()).isEqualTo(130);
      assertThat(demo.output()).contains("kv2pg: SIGINT: stopping the demo at the next commit")
          .contains("demo: SIGINT: stopped at sequence ").doesNotContain("Caught up");
      assertThat(millis).as("milliseconds from the signal to the exit").isLessThan(20_000);
    }
  }
}
