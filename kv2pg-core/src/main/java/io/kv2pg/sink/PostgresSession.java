package io.kv2pg.sink;

import io.kv2pg.ReplicationException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BooleanSupplier;
import org.postgresql.PGConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * kv2pg's one writer connection, holding the replication's lock. Runs units of work and retries
 * them, on a new connection if need be, when Postgres fails in a way that goes away by itself
 * (lost connection, restart, serialization failure, deadlock): with backoff, for as long as it
 * takes, unless the replication is stopping. Not thread-safe: one thread uses it.
 */
public final class PostgresSession implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PostgresSession.class);
  private static final long FIRST_BACKOFF_MILLIS = 100;
  private static final long MAX_BACKOFF_MILLIS = 10_000;
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
  private final Object sleeper = new Object();
  private Connection connection;
  private boolean everLocked;
  /** The server process of {@link #connection}, 0 when none; read by the stopping thread. */
  private volatile int backendPid;

  public PostgresSession(PostgresConnector connector, CheckpointStore checkpoints, String logName,
      BooleanSupplier stopping) {
    this.connector = connector;
    this.checkpoints = checkpoints;
    this.logName = logName;
    this.stopping = stopping;
  }

  /**
   * Runs the work until it succeeds or fails for a reason that retrying cannot fix.
   *
   * @throws SQLException an error that is not transient
   * @throws Abandoned if the replication is stopping while Postgres fails
   * @throws ReplicationException from the work, or if another process holds the lock
   */
  public <T> T run(Work<T> work) throws SQLException, Abandoned {
    long backoff = FIRST_BACKOFF_MILLIS;
    boolean retry = false;
    while (true) {
      try {
        return work.run(connection(), retry);
      } catch (SQLException e) {
        if (!SqlStates.isTransient(e)) {
          throw e;
        }
        recover(e);
        if (stopping.getAsBoolean()) {
          throw new Abandoned(e);
        }
        LOG.warn("kv2pg[{}]: Postgres failed ({}); retrying in {} ms", logName,
            SqlStates.describe(e), backoff);
        pause(backoff);
        backoff = Math.min(MAX_BACKOFF_MILLIS, backoff * 2);
        retry = true;
      }
    }
  }

  /**
   * Keeps a healthy connection (serialization failure, deadlock, cancelled statement) after a
   * rollback; closes a broken one.
   */
  private void recover(SQLException error) {
    if (connection == null) {
      return;
    }
    String state = error.getSQLState();
    try {
      if (state != null && !state.startsWith("08") && !connection.isClosed()) {
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
        throw new ReplicationException("kv2pg[" + logName + "]: interrupted while waiting to retry", e);
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
        // This replication held the lock before: most likely its previous session, which the
        // server has not ended yet. Retried like any transient error.
        throw new SQLException("the lock of replication '" + logName + "' is still held, probably"
            + " by its previous session, which the server has not ended yet", "55P03");
      }
      // Waits even when stopping: the lock is needed to drain, and a previous holder's session
      // usually ends within milliseconds of its connection closing.
      if (System.nanoTime() > deadline) {
        throw new ReplicationException(
            "Replication '" + logName + "' is already running against " + connector.describe()
                + " (another process or RunningReplication holds its lock). Stop the other one,"
                + " or give this replication another name.",
            null);
      }
      pause(200);
    }
  }

  private static int backendPid(Connection opened) {
    try {
      return opened.unwrap(PGConnection.class).getBackendPID();
    } catch (SQLException e) {
      LOG.debug("the connection is not pgjdbc's, so a stop cannot cancel its statements: {}", e.getMessage());
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
    String function = terminate ? "pg_terminate_backend" : "pg_cancel_backend";
    try (Connection other = connector.open();
        PreparedStatement statement = other.prepareStatement("select " + function + "(?)")) {
      statement.setInt(1, pid);
      statement.execute();
      other.commit();
      LOG.warn("kv2pg[{}]: stop took too long: called {} on kv2pg's server process {}", logName, function, pid);
    } catch (SQLException e) {
      LOG.warn("kv2pg[{}]: stop could not call {} on kv2pg's server process {}: {}", logName, function, pid,
          SqlStates.describe(e));
    }
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

  private static void closeQuietly(Connection connection) {
    try {
      connection.close();
    } catch (SQLException e) {
      LOG.debug("closing a failed connection: {}", e.getMessage());
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
