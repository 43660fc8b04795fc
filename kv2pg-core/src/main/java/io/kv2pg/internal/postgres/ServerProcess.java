package io.kv2pg.internal.postgres;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What another thread may do to kv2pg's server process, on a short-lived connection of its own:
 * ask what its statement waits for, cancel the statement, end the process. Best effort: a failure
 * is logged, never thrown. Thread-safe; holds no connection between calls.
 */
final class ServerProcess {
  private static final Logger LOG = LoggerFactory.getLogger(ServerProcess.class);
  private static final String WAIT_QUERY = """
      select (select l.relation::regclass::text from pg_locks l
               where l.pid = a.pid and not l.granted and l.relation is not null limit 1),
             a.wait_event_type, a.wait_event, pg_blocking_pids(a.pid)::text
      from pg_stat_activity a where a.pid = ?""";

  private final PostgresConnector connector;
  private final String logName;

  ServerProcess(PostgresConnector connector, String logName) {
    this.connector = connector;
    this.logName = logName;
  }

  /**
   * Returns what the process's statement waits for, such as "statement on shop.orders blocked by a
   * lock held by server process 4711", or {@code null} when Postgres cannot be asked.
   */
  String describeWait(int pid) {
    try (Connection other = connector.open();
        PreparedStatement statement = other.prepareStatement(WAIT_QUERY)) {
      statement.setInt(1, pid);
      String wait;
      try (ResultSet row = statement.executeQuery()) {
        wait = row.next() ? describe(row) : null;
      }
      other.commit();
      return wait;
    } catch (SQLException e) {
      LOG.debug("kv2pg[{}]: could not ask Postgres what its statement waits for: {}", logName,
          SqlStates.describe(e));
      return null;
    }
  }

  private static String describe(ResultSet row) throws SQLException {
    String relation = row.getString(1);
    String type = row.getString(2);
    if ("Lock".equals(type)) {
      return "statement on " + (relation != null ? relation : "a " + row.getString(3)) + " blocked by a lock"
          + " held by server process " + row.getString(4).replaceAll("[{}]", "");
    }
    return type == null ? "a Postgres statement" : "a Postgres statement waiting on " + type + "/" + row.getString(3);
  }

  /**
   * Cancels the process's statement ({@code pg_cancel_backend}) or, if {@code terminate}, ends the
   * process ({@code pg_terminate_backend}), which also frees the replication's lock.
   */
  void interrupt(int pid, boolean terminate) {
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
}
