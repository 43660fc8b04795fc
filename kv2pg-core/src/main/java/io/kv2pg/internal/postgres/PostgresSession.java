package io.kv2pg.internal.postgres;

import io.kv2pg.ReplicationException;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.postgresql.PGConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * kv2pg's one writer connection, holding the replication's lock. Runs units of work and retries
 * them, on a new connection if need be, when Postgres fails in a way that goes away by itself
 * (lost connection, restart, serialization failure, deadlock): with backoff, for as long as it
 * takes, unless the replication is stopping. Limit errors (see {@link SqlStates.Retry}) are retried
 * a few times on a new connection, then reported. Not thread-safe: one thread uses it, except
 * {@link #waitingFor}, {@link #checkBlocked}, {@link #interrupt} and {@link #wake}.
 *
 * <p>Somewhat over 300 lines because connecting, locking, claiming the epoch and retrying share
 * the one connection and its state; what other threads do to its server process is in {@link
 * ServerProcess}.
 */
public final class PostgresSession implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PostgresSession.class);
  private static final long FIRST_BACKOFF_MILLIS = 100;
  private static final String CANNOT_CONNECT_NOW = "57P03";
  private static final long MAX_BACKOFF_MILLIS = 10_000;
  /** How many times a limit error may come back for the same work before it is reported. */
  static final int LIMIT_ATTEMPTS = 3;
  /** How long work runs before {@link #waitingFor()} reports it. */
  static final long SLOW_WORK_MILLIS = 2_000;
  /** How often a retry loop that goes on says so again in the log. */
  private static final Duration RETRY_LOG_INTERVAL = Duration.ofMinutes(1);
  /** How long to wait for a lock that an ended process's session may still hold. */
  private static final long LOCK_WAIT_MILLIS = 15_000;

  /** A unit of work; {@code retry} tells it that an earlier attempt failed part-way. */
  @FunctionalInterface
  public interface Work<T> {
    T run(Connection connection, boolean retry) throws SQLException;
  }

  /** Thrown when the replication is stopping and Postgres cannot be reached to finish. */
  public static final class Abandoned extends Exception {
    private static final long serialVersionUID = 1L;

    Abandoned(SQLException cause) {
      super("stopping while Postgres is unavailable", cause);
    }
  }

  private final PostgresConnector connector;
  private final CheckpointStore checkpoints;
  private final String logName;
  private final BooleanSupplier stopping;
  private final Consumer<SQLException> retried;
  private final long retryLogIntervalNanos;
  private final ServerProcess serverProcess;
  private final Object sleeper = new Object();
  private Connection connection;
  private boolean everLocked;
  /** The server process of {@link #connection}, 0 when none; read by other threads. */
  private volatile int backendPid;
  /** Why the session waits to retry, while it does; read by other threads. */
  private volatile String waiting;
  /** When the running unit of work started ({@link System#nanoTime}), 0 when none runs. */
  private volatile long workStartedNanos;
  /** What the running statement waits for, as {@link #checkBlocked} last saw it. */
  private volatile String blockedBy;

  /**
   * @param stopping whether the replication is stopping, so that a retry loop gives up
   * @param retried told of every failed attempt that is tried again, on the session's thread
   */
  public PostgresSession(PostgresConnector connector, CheckpointStore checkpoints, String logName,
      BooleanSupplier stopping, Consumer<SQLException> retried) {
    this(connector, checkpoints, logName, stopping, retried, RETRY_LOG_INTERVAL);
  }

  /** @param retryLogInterval how often a retry loop that goes on says so again (a minute; tests shorten it) */
  PostgresSession(PostgresConnector connector, CheckpointStore checkpoints, String logName,
      BooleanSupplier stopping, Consumer<SQLException> retried, Duration retryLogInterval) {
    this.retryLogIntervalNanos = retryLogInterval.toNanos();
    this.connector = connector;
    this.checkpoints = checkpoints;
    this.logName = logName;
    this.stopping = stopping;
    this.retried = retried;
    this.serverProcess = new ServerProcess(connector, logName);
  }

  /**
   * Thrown when a limit error ({@link SqlStates.Retry#A_FEW_TIMES}) came back for the same work
   * {@value #LIMIT_ATTEMPTS} times: the caller makes the work smaller or fails. Carries the last
   * error's SQLSTATE and message.
   */
  public static final class LimitReached extends SQLException {
    private static final long serialVersionUID = 1L;

    LimitReached(SQLException last, int attempts) {
      super(SqlStates.describe(last) + " (" + attempts + " attempts)", last.getSQLState(), last);
    }

    /** Returns the error of the last attempt. */
    public SQLException last() {
      return (SQLException) getCause();
    }
  }

  /**
   * Runs the work until it succeeds or fails for a reason that retrying cannot fix. While it
   * waits to retry, {@link #waitingFor()} says why.
   *
   * @throws LimitReached if a limit error repeats for this work
   * @throws SQLException an error that is not transient
   * @throws Abandoned if the replication is stopping while Postgres fails
   * @throws ReplicationException from the work, or if another process holds the lock
   */
  public <T> T run(Work<T> work) throws SQLException, Abandoned {
    try {
      return runRetrying(work);
    } finally {
      waiting = null;
    }
  }

  private <T> T runRetrying(Work<T> work) throws SQLException, Abandoned {
    long backoff = FIRST_BACKOFF_MILLIS;
    boolean retry = false;
    int attempts = 0;
    int limitErrors = 0;
    long loggedNanos = 0;
    while (true) {
      attempts++;
      try {
        workStartedNanos = System.nanoTime();
        T result = work.run(connection(), retry);
        if (attempts > 1) {
          LOG.info("kv2pg[{}]: Postgres works again, after {} attempts", logName, attempts);
        }
        return result;
      } catch (SQLException e) {
        SqlStates.Retry kind = SqlStates.retry(e);
        if (kind == SqlStates.Retry.NEVER) {
          throw e;
        }
        if (kind == SqlStates.Retry.A_FEW_TIMES) {
          // A new session, so that a setting changed meanwhile (ALTER ROLE ... SET) takes effect.
          closeConnection();
          limitErrors++;
        } else {
          recover(e);
        }
        if (stopping.getAsBoolean()) {
          throw new Abandoned(e);
        }
        if (limitErrors >= LIMIT_ATTEMPTS) {
          throw new LimitReached(e, limitErrors);
        }
        String why = (SqlStates.isConnectionError(e) ? "Postgres unreachable: " : "Postgres failed: ")
            + SqlStates.describe(e);
        waiting = why + " (attempt " + attempts + ", next in " + formatMillis(backoff) + ")";
        retried.accept(e);
        long now = System.nanoTime();
        if (attempts == 1) {
          LOG.warn("kv2pg[{}]: {}; retrying in {} ms, {}", logName, why, backoff,
              kind == SqlStates.Retry.A_FEW_TIMES ? "up to " + LIMIT_ATTEMPTS + " attempts"
                  : "for as long as it takes (logged again once a minute; the status shows each attempt)");
          loggedNanos = now;
        } else if (now - loggedNanos >= retryLogIntervalNanos) {
          LOG.warn("kv2pg[{}]: still retrying after {} attempts: {}", logName, attempts, why);
          loggedNanos = now;
        }
        pause(backoff);
        backoff = Math.min(MAX_BACKOFF_MILLIS, backoff * 2);
        retry = true;
      } finally {
        workStartedNanos = 0;
      }
    }
  }

  private static String formatMillis(long millis) {
    return millis < 1000 ? millis + " ms" : (millis / 1000) + " s";
  }

  /**
   * Returns what the session waits for, if anything: a retry after a failure (with the attempt
   * and when the next comes) or, for work that has run longer than {@value #SLOW_WORK_MILLIS} ms,
   * the statement that runs and, when {@link #checkBlocked} has seen it, the lock it waits for.
   *
   * <p>Concurrency: any thread may call it; it reads fields that the session's thread publishes.
   */
  public Optional<String> waitingFor() {
    String retrying = waiting;
    if (retrying != null) {
      return Optional.of(retrying);
    }
    long started = workStartedNanos;
    if (started == 0) {
      return Optional.empty();
    }
    long runningMillis = (System.nanoTime() - started) / 1_000_000;
    if (runningMillis < SLOW_WORK_MILLIS) {
      return Optional.empty();
    }
    String blocked = blockedBy;
    return Optional.of((blocked != null ? blocked : "a Postgres statement") + ", running for "
        + formatMillis(runningMillis));
  }

  /**
   * Asks Postgres, on a connection of its own, what the session's statement waits for when its
   * work has run long, and publishes the answer for {@link #waitingFor()}. Best effort.
   *
   * <p>Concurrency: called by a thread other than the session's.
   */
  public void checkBlocked() {
    int pid = backendPid;
    long started = workStartedNanos;
    if (pid == 0 || started == 0 || (System.nanoTime() - started) / 1_000_000 < SLOW_WORK_MILLIS) {
      blockedBy = null;
      return;
    }
    blockedBy = serverProcess.describeWait(pid);
  }

  /**
   * Keeps a healthy connection (serialization failure, deadlock) after a rollback; closes a
   * broken one.
   */
  private void recover(SQLException error) {
    if (connection == null) {
      return;
    }
    try {
      if (!SqlStates.isConnectionError(error) && !connection.isClosed()) {
        connection.rollback();
        return;
      }
    } catch (SQLException e) {
      error.addSuppressed(e);
    }
    closeConnection();
  }

  /** Wakes a retry that is waiting, so that a stop is noticed at once. */
  public void wake() {
    synchronized (sleeper) {
      sleeper.notifyAll();
    }
  }

  private void pause(long millis) {
    long jittered = millis / 2 + ThreadLocalRandom.current().nextLong(millis / 2 + 1);
    synchronized (sleeper) {
      try {
        sleeper.wait(jittered);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new ReplicationException(ReplicationException.Kind.INTERRUPTED, "kv2pg[" + logName + "]: interrupted while waiting to retry", e);
      }
    }
  }

  private Connection connection() throws SQLException {
    if (connection == null) {
      Connection opened = connector.open();
      try {
        CheckpointStore.createSchema(opened);
        lock(opened);
        if (everLocked) {
          checkpoints.confirmOwner(opened);
        } else {
          checkpoints.claim(opened);
          everLocked = true;
        }
      } catch (SQLException | RuntimeException e) {
        closeQuietly(opened);
        throw e;
      }
      connection = opened;
      backendPid = backendPid(opened);
      LOG.debug("kv2pg[{}]: connected to {}", logName, connector.describe());
    }
    return connection;
  }

  private void lock(Connection opened) throws SQLException {
    long deadline = System.nanoTime() + LOCK_WAIT_MILLIS * 1_000_000;
    while (!checkpoints.tryLock(opened)) {
      if (everLocked) {
        // Another runner that took over holds it: fail as fenced rather than wait for it.
        checkpoints.confirmOwner(opened);
        // This replication held the lock before: most likely its previous session, which the
        // server has not ended yet. Retried for as long as it takes, like a server that cannot
        // take a session yet: the lock is freed when that session ends.
        throw new SQLException("the lock of replication '" + logName + "' is still held, probably"
            + " by its previous session, which the server has not ended yet", CANNOT_CONNECT_NOW);
      }
      // Waits even when stopping: the lock is needed to drain, and a previous holder's session
      // usually ends within milliseconds of its connection closing.
      if (System.nanoTime() > deadline) {
        throw new ReplicationException(ReplicationException.Kind.ALREADY_RUNNING,
            "Replication '" + logName + "' is already running against " + connector.describe()
                + " (another process or RunningReplication holds its lock). Stop the other one,"
                + " or give this replication another name.",
            null);
      }
      pause(200);
    }
  }

  private int backendPid(Connection opened) {
    try {
      return opened.unwrap(PGConnection.class).getBackendPID();
    } catch (SQLException e) {
      LOG.debug("kv2pg[{}]: the connection is not pgjdbc's, so a stop cannot cancel its statements: {}", logName,
          e.getMessage());
      return 0;
    }
  }

  /**
   * Ends what the session's server process is doing, from another thread, so that a stop returns
   * whatever Postgres does: first cancels its statement ({@code pg_cancel_backend}), then, if
   * {@code terminate}, ends the process ({@code pg_terminate_backend}), which also frees the
   * replication's lock. Uses a connection of its own; what was not committed is applied at the
   * next start. Best effort: a failure is logged, never thrown.
   *
   * <p>Concurrency: the only method that another thread may call, with {@link #wake}.
   */
  public void interrupt(boolean terminate) {
    int pid = backendPid;
    if (pid == 0) {
      return;
    }
    serverProcess.interrupt(pid, terminate);
  }

  private void closeConnection() {
    backendPid = 0;
    if (connection != null) {
      // A pooled connection goes back to its pool still holding a session lock unless it is
      // released here; on a broken connection this fails at once, and the server frees the lock.
      try {
        connection.rollback();
        checkpoints.unlock(connection);
      } catch (SQLException e) {
        LOG.debug("kv2pg[{}]: could not release the lock on a failed connection: {}", logName,
            e.getMessage());
      }
      closeQuietly(connection);
      connection = null;
    }
  }

  private void closeQuietly(Connection connection) {
    try {
      connection.close();
    } catch (SQLException e) {
      LOG.debug("kv2pg[{}]: closing a failed connection: {}", logName, e.getMessage());
    }
  }

  /** Returns the connection if one is open, for best-effort bookkeeping at the end. */
  public Connection openConnection() {
    return connection;
  }

  @Override
  public void close() {
    closeConnection();
  }
}
