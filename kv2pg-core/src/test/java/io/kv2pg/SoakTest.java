package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A soak: random writes (puts, deletes, write batches) to three column families, two declared
 * tables and one statement mapping, all under the version trigger ({@link VersionedWorkload}), for
 * {@code -Dsoak.minutes} minutes (default 1), while faults are injected at random moments:
 *
 * <ul>
 *   <li>{@code kill9}: the postmaster and its server processes killed with SIGKILL, restarted
 *       after 0 to 2 s;
 *   <li>{@code terminate}: {@code pg_terminate_backend} on kv2pg's sessions;
 *   <li>{@code lock}: a mapped table locked in access exclusive mode for 1 to 4 s; now and then
 *       ({@code stopDuringLock}) the replication is stopped with {@code stop(2 s)} while it waits
 *       on the lock, and started again;
 *   <li>{@code secondRunner}: a second runner of the same name, which must be refused (or take
 *       over cleanly, the first then stopping as fenced);
 *   <li>{@code restart}: the application's replication closed and started again.
 * </ul>
 *
 * <p>After each fault the replication must commit again within a minute (the recovery times are
 * recorded). At the end it must catch up; a full {@link Verification} must be clean, every table
 * must equal the store row by row, the trigger must have refused nothing and the checkpoint must
 * be the store's latest sequence. A summary line ({@code SOAK RESULT ...}) is printed and written to
 * {@code target/soak-result.txt}.
 *
 * <p>Run with {@code mvn -B -Psoak verify -pl kv2pg-core -Dsoak.minutes=N}; not part of the
 * default run (tag {@code soak}).
 */
@Tag("soak")
class SoakTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String NAME = "soak";
  private static final List<String> FAMILIES = List.of("a", "b", "c");
  private static final int KEYS = 2_000;

  enum Fault { KILL9, TERMINATE, LOCK, STOP_DURING_LOCK, RESTART, SECOND_RUNNER, SECOND_RUNNER_REFUSED, SECOND_RUNNER_TOOK_OVER,
    /** Not a fault: a first runner, taken over, that kept retrying the lock (no commits) until stopped. */
    FIRST_RUNNER_WAITED_UNTIL_STOP }

  @TempDir Path dir;

  private final Map<Fault, Integer> counts = new EnumMap<>(Fault.class);
  private final Map<Fault, Long> slowestRecoveryMillis = new EnumMap<>(Fault.class);
  /** The replication the application runs. */
  private RunningReplication running;
  /** A second runner of the same name whose outcome (refused or took over) is not known yet. */
  private RunningReplication second;

  @Test
  void replicationSurvivesRandomFaultsExactlyOnce() throws Exception {
    double minutes = Double.parseDouble(System.getProperty("soak.minutes", "1"));
    long seed = Long.getLong("soak.seed", new Random().nextLong());
    Random random = new Random(seed);
    String context = "soak seed " + seed;
    Instant began = Instant.now();
    try (FaultPostgres server = FaultPostgres.launch();
        TestStore store = TestStore.open(dir, FAMILIES.toArray(String[]::new))) {
      String url = server.newDatabase("soak");
      VersionedWorkload.installTriggerFunction(url);
      VersionedWorkload.createDeclaredTable(url, "a_rows");
      VersionedWorkload.createDeclaredTable(url, "b_rows");
      VersionedWorkload.createStatementTable(url, "c_rows");
      Replication replication = Replication.builder().postgres(url).source(store.db).name(NAME)
          .tree(VersionedWorkload.declaredMapping(store.family("a"), "a_rows"))
          .tree(VersionedWorkload.declaredMapping(store.family("b"), "b_rows"))
          .tree(VersionedWorkload.statementMapping(store.family("c"), "c_rows"))
          .build();
      AtomicLong versions = new AtomicLong();
      List<Fault> deck = new ArrayList<>();
      running = replication.start();
      VersionedWorkload.Writer writer = new VersionedWorkload.Writer(store, FAMILIES, KEYS, seed, versions, 1_000);
      try {
        long end = System.nanoTime() + (long) (minutes * 60e9);
        while (System.nanoTime() < end) {
          pause(Duration.ofMillis(1_000 + random.nextInt(4_000)), context);
          long before = store.db.getLatestSequenceNumber();
          long faultStart = System.nanoTime();
          Fault fault = switch (draw(deck, random)) {
            case KILL9 -> kill9(server, random);
            case TERMINATE -> terminate(url);
            case LOCK -> lock(url, random);
            case STOP_DURING_LOCK -> stopDuringLock(url, replication, random, context);
            case SECOND_RUNNER -> startSecondRunner(replication);
            default -> restart(replication);
          };
          counts.merge(fault, 1, Integer::sum);
          if (fault != Fault.SECOND_RUNNER) {
            progress("commits after fault " + fault + " (" + context + ")", before);
            slowestRecoveryMillis.merge(fault, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - faultStart),
                Math::max);
          }
        }
        settleSecondRunner(true, context);
        writer.close();
        Await.caughtUp(running, Duration.ofSeconds(120), context + ", final catch-up");
        String result = check(url, store, replication, running, context);
        summary(minutes, seed, began, writer, store, url, result);
      } finally {
        writer.closeQuietly();
        if (second != null) {
          second.close();
        }
        running.close();
      }
    }
  }

  /** Every fault type comes once in each shuffled round of this many draws (kill -9 and terminate twice). */
  private static final List<Fault> ROUND = List.of(Fault.KILL9, Fault.KILL9, Fault.TERMINATE, Fault.TERMINATE,
      Fault.LOCK, Fault.STOP_DURING_LOCK, Fault.SECOND_RUNNER, Fault.RESTART);

  /**
   * Draws the next fault from a shuffled round; while a second runner waits for the lock, only a
   * fault that keeps one application runner (the others stay in the deck for later).
   */
  private Fault draw(List<Fault> deck, Random random) {
    if (deck.isEmpty()) {
      deck.addAll(ROUND);
      Collections.shuffle(deck, random);
    }
    for (int i = 0; i < deck.size(); i++) {
      Fault fault = deck.get(i);
      if (second == null || fault == Fault.KILL9 || fault == Fault.TERMINATE || fault == Fault.LOCK) {
        return deck.remove(i);
      }
    }
    return Fault.LOCK;
  }

  /** SIGKILL of the postmaster and its children; restarted after 0 to 2 s. */
  private static Fault kill9(FaultPostgres server, Random random) {
    server.kill9();
    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(random.nextInt(2_000)));
    server.start();
    return Fault.KILL9;
  }

  /** pg_terminate_backend on kv2pg's sessions (there may be none at this moment: then nothing). */
  private static Fault terminate(String url) {
    TestPostgres.query(url, "select pg_terminate_backend(pid) from pg_stat_activity"
        + " where application_name = 'kv2pg-" + NAME + "'");
    return Fault.TERMINATE;
  }

  /** Holds an access exclusive lock on a random mapped table for 1 to 4 s. */
  private static Fault lock(String url, Random random) throws SQLException {
    String table = FAMILIES.get(random.nextInt(FAMILIES.size())) + "_rows";
    try (Connection locker = DriverManager.getConnection(url)) {
      locker.setAutoCommit(false);
      try (Statement statement = locker.createStatement()) {
        statement.execute("lock table " + table + " in access exclusive mode");
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1_000 + random.nextInt(3_000)));
      locker.rollback();
    }
    return Fault.LOCK;
  }

  /** Locks a table until kv2pg waits on it, stops the replication with stop(2 s), unlocks, starts again. */
  private Fault stopDuringLock(String url, Replication replication, Random random, String context)
      throws SQLException {
    String table = FAMILIES.get(random.nextInt(FAMILIES.size())) + "_rows";
    try (Connection locker = DriverManager.getConnection(url)) {
      locker.setAutoCommit(false);
      try (Statement statement = locker.createStatement()) {
        statement.execute("lock table " + table + " in access exclusive mode");
      }
      Await.condition(WAIT, "kv2pg waits on the lock of " + table + " (" + context + ")", () -> !TestPostgres.query(
          url, "select 1 from pg_stat_activity where application_name = 'kv2pg-" + NAME + "'"
              + " and wait_event_type = 'Lock'").isEmpty());
      long stopStart = System.nanoTime();
      running.stop(Duration.ofSeconds(2));
      long stopMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stopStart);
      assertThat(stopMillis).as("stop(2 s) returned while the table was locked (%s)", context).isLessThan(15_000);
      assertThat(running.status().state()).as("state after stop(2 s): %s", running.status())
          .isEqualTo(ReplicationState.STOPPED);
      locker.rollback();
    }
    running = replication.start();
    return Fault.STOP_DURING_LOCK;
  }

  /** The application closes its replication and starts it again. */
  private Fault restart(Replication replication) {
    running.close();
    assertThat(running.status().state()).as("state after close: %s", running.status())
        .isEqualTo(ReplicationState.STOPPED);
    running = replication.start();
    return Fault.RESTART;
  }

  /** Starts a second runner of the same name; its outcome is checked while the soak goes on. */
  private Fault startSecondRunner(Replication replication) {
    second = replication.start();
    return Fault.SECOND_RUNNER;
  }

  /**
   * Checks the second runner, if any: it must be refused (the first goes on) or take over (when the
   * first one's session had died at the wrong moment), the first then stopping as fenced, without
   * committing; never both running. With {@code wait}, waits for the outcome.
   */
  private void settleSecondRunner(boolean wait, String context) {
    if (second == null) {
      return;
    }
    ReplicationStatus outcome = second.status();
    if (wait) {
      outcome = Await.status(second, Duration.ofSeconds(90), "the second runner is refused or takes over",
          status -> status.state() == ReplicationState.FAILED || status.state() == ReplicationState.STREAMING);
    }
    if (outcome.state() == ReplicationState.FAILED) {
      second.close();
      second = null;
      assertThat(outcome.failure().orElseThrow()).as("refusal of the second runner (%s)", context)
          .hasMessageContaining("already running");
      counts.merge(Fault.SECOND_RUNNER_REFUSED, 1, Integer::sum);
    } else if (outcome.state() == ReplicationState.STREAMING) {
      // The first runner must not commit again: it fails as fenced at its next commit, or, when its
      // own session was lost too, retries to get the lock back (state STREAMING, no progress) and
      // notices the takeover only when it gets the lock or stops. Either way, at stop it is fenced.
      long firstApplied = running.status().appliedSequence();
      ReplicationStatus first = Await.status(running, Duration.ofSeconds(30), "the first runner is fenced",
          status -> status.state() == ReplicationState.FAILED
              || second.status().appliedSequence() > firstApplied + 5_000);
      if (first.state() != ReplicationState.FAILED) {
        counts.merge(Fault.FIRST_RUNNER_WAITED_UNTIL_STOP, 1, Integer::sum);
        running.stop(Duration.ofSeconds(2));
      }
      ReplicationStatus fenced = running.status();
      assertThat(fenced.appliedSequence()).as("the first runner committed nothing after the takeover (%s)", context)
          .isEqualTo(firstApplied);
      if (first.state() == ReplicationState.FAILED || fenced.state() == ReplicationState.FAILED) {
        assertThat(fenced.failure().orElseThrow()).as("the first runner after the second took over (%s)", context)
            .hasMessageContaining("taken over by another runner");
      } else {
        assertThat(fenced.state()).as("the first runner, stopped while waiting for the lock (%s)", context)
            .isEqualTo(ReplicationState.STOPPED);
      }
      running.close();
      running = second;
      second = null;
      counts.merge(Fault.SECOND_RUNNER_TOOK_OVER, 1, Integer::sum);
    }
  }

  /** Fails if the application's replication failed, unless a second runner took over from it. */
  private void checkHealthy(String context) {
    settleSecondRunner(false, context);
    ReplicationStatus status = running.status();
    if (status.state() == ReplicationState.FAILED) {
      if (second != null && status.failure().map(Throwable::getMessage).orElse("").contains("taken over")) {
        settleSecondRunner(true, context);
        return;
      }
      fail("the replication failed (%s): %s", context, status);
    }
  }

  /** Waits until the application's replication has committed beyond {@code sequence}. */
  private void progress(String what, long sequence) {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (true) {
      checkHealthy(what);
      if (running.status().appliedSequence() > sequence) {
        return;
      }
      if (System.nanoTime() - deadline > 0) {
        fail("timed out after %s waiting for %s; last status: %s", WAIT, what, running.status());
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
    }
  }

  /** Lets the writes and the replication run for a while; fails at once if the replication fails. */
  private void pause(Duration duration, String context) {
    long until = System.nanoTime() + duration.toNanos();
    while (System.nanoTime() < until) {
      checkHealthy(context);
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
    }
  }

  private static String check(String url, TestStore store, Replication replication, RunningReplication running,
      String context) {
    for (String family : FAMILIES) {
      VersionedWorkload.assertTableEqualsStore(url, store, family,
          "select key, version, payload from " + family + "_rows", context);
    }
    VersionedWorkload.assertNoWriteRefused(url, context);
    TableDiff.assertCheckpointAtLatest(url, NAME, store, context);
    VerificationReport report = Verification.of(replication).run();
    assertThat(report.isClean()).as("%s: verification%n%s", context, report.format()).isTrue();
    assertThat(running.status().state()).isEqualTo(ReplicationState.STREAMING);
    return "clean (verification: " + report.tables().size() + " declared tables, "
        + report.tables().stream().mapToLong(VerificationReport.TableResult::storeRows).sum()
        + " rows; 3 tables equal to the store row by row; 0 writes refused by the version trigger)";
  }

  private void summary(double minutes, long seed, Instant began, VersionedWorkload.Writer writer, TestStore store,
      String url, String result) throws IOException {
    StringBuilder rows = new StringBuilder();
    for (String family : FAMILIES) {
      rows.append(family).append("_rows=").append(TestPostgres.query(url, "select count(*) from " + family + "_rows")
          .get(0).get(0)).append(' ');
    }
    String line = "SOAK RESULT minutes=" + minutes + " seed=" + seed
        + " elapsed=" + Duration.between(began, Instant.now()).toSeconds() + "s"
        + " faults=" + counts + " slowestRecoveryMillis=" + slowestRecoveryMillis
        + " writes: puts=" + writer.puts + " deletes=" + writer.deletes + " batches=" + writer.batches
        + " sequence=" + store.db.getLatestSequenceNumber() + " rows: " + rows.toString().strip()
        + " result=" + result;
    System.out.println(line);
    Path target = Path.of("target");
    if (Files.isDirectory(target)) {
      Files.writeString(target.resolve("soak-result.txt"), line + "\n", StandardCharsets.UTF_8);
    }
  }
}
