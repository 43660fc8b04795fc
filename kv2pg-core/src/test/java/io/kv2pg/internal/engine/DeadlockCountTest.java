package io.kv2pg.internal.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.kv2pg.ReplicationStatus;
import io.kv2pg.TestPostgres;
import io.kv2pg.internal.metrics.MicrometerTelemetry;
import io.kv2pg.internal.postgres.SqlStates;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * A real deadlock (two transactions locking two rows in opposite orders) is counted as a retry and
 * as a deadlock, in the status and in the Micrometer counter; other retried errors only as retries.
 */
class DeadlockCountTest {

  @Test
  void aRealDeadlockIsCountedApartFromOtherRetries() throws Exception {
    String url = TestPostgres.newDatabase();
    TestPostgres.execute(url, "create table t (id int primary key); insert into t values (1), (2)");
    SQLException deadlock = provokeDeadlock(url);
    assertThat(deadlock.getSQLState()).isEqualTo("40P01");
    assertThat(SqlStates.isDeadlock(deadlock)).isTrue();
    assertThat(SqlStates.isTransient(deadlock)).isTrue();

    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    Progress progress = new Progress("r", Duration.ofMinutes(1));
    Telemetry telemetry = MicrometerTelemetry.factory(registry).create("r", List.of("m"),
        () -> progress.status(0, Optional::empty), () -> 0);
    progress.reportTo(telemetry);
    progress.retried(deadlock);
    progress.retried(new SQLException("connection lost", "08006"));
    progress.retried(new SQLException("could not serialize access", "40001"));

    ReplicationStatus status = progress.status(0, Optional::empty);
    assertThat(status.retries()).isEqualTo(3);
    assertThat(status.deadlocks()).isEqualTo(1);
    assertThat(registry.get("kv2pg.deadlocks").tag("replication", "r").counter().count()).isEqualTo(1.0);
    assertThat(registry.find("kv2pg.retries").counters().stream().mapToDouble(c -> c.count()).sum())
        .isEqualTo(3.0);
    telemetry.close();
  }

  /** Two transactions each lock one row, then the other's: Postgres ends one with 40P01. */
  private static SQLException provokeDeadlock(String url) throws Exception {
    ExecutorService other = Executors.newSingleThreadExecutor();
    try (Connection first = DriverManager.getConnection(url); Connection second = DriverManager.getConnection(url)) {
      first.setAutoCommit(false);
      second.setAutoCommit(false);
      try (Statement statement = first.createStatement()) {
        statement.execute("set deadlock_timeout = '20ms'");
        statement.execute("select * from t where id = 1 for update");
      }
      int firstPid = pid(first);
      try (Statement statement = second.createStatement()) {
        statement.execute("set deadlock_timeout = '20ms'");
        statement.execute("select * from t where id = 2 for update");
      }
      // The first waits for row 2 on a thread of its own; once Postgres shows it waiting, the
      // second asks for row 1, and one of the two is ended as a deadlock.
      CompletableFuture<SQLException> firstWaits = CompletableFuture.supplyAsync(() -> lock(first, 2), other);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!waitsForLock(url, firstPid)) {
        if (System.nanoTime() > deadline) {
          fail("the first transaction never waited for the lock");
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
      }
      SQLException secondFailure = lock(second, 1);
      SQLException firstFailure = firstWaits.get(30, TimeUnit.SECONDS);
      first.rollback();
      second.rollback();
      SQLException failure = firstFailure != null ? firstFailure : secondFailure;
      assertThat((Throwable) failure).as("one of the transactions is ended as a deadlock").isNotNull();
      assertThat(firstFailure == null || secondFailure == null).as("only one of them").isTrue();
      return failure;
    } finally {
      other.shutdownNow();
    }
  }

  /** Locks row {@code id}; returns the error, or {@code null} if the lock was granted. */
  private static SQLException lock(Connection connection, int id) {
    try (Statement statement = connection.createStatement()) {
      statement.execute("select * from t where id = " + id + " for update");
      return null;
    } catch (SQLException e) {
      return e;
    }
  }

  private static int pid(Connection connection) throws SQLException {
    try (Statement statement = connection.createStatement();
        java.sql.ResultSet rows = statement.executeQuery("select pg_backend_pid()")) {
      rows.next();
      return rows.getInt(1);
    }
  }

  private static boolean waitsForLock(String url, int pid) {
    return !TestPostgres.query(url, "select 1 from pg_stat_activity where pid = " + pid
        + " and wait_event_type = 'Lock'").isEmpty();
  }
}
