package io.kv2pg.sink;

import java.sql.SQLException;
import java.util.Set;

/**
 * Tells errors that go away by themselves (retry) from errors that the data or the configuration
 * cause (stop), by SQLSTATE, never by message.
 */
public final class SqlStates {
  private static final Set<String> TRANSIENT = Set.of(
      "40001", // serialization_failure
      "40P01", // deadlock_detected
      "55P03", // lock_not_available
      "57P01", // admin_shutdown
      "57P02", // crash_shutdown
      "57P03", // cannot_connect_now
      "57014", // query_canceled (statement_timeout, pg_cancel_backend)
      "53000", // insufficient_resources
      "53100", // disk_full
      "53200", // out_of_memory
      "53300", // too_many_connections
      "58000", // system_error
      "58030"); // io_error

  private SqlStates() {}

  /** Returns whether retrying the same work later may succeed. */
  public static boolean isTransient(SQLException error) {
    for (SQLException e = error; e != null; e = e.getNextException()) {
      String state = e.getSQLState();
      if (state == null) {
        continue;
      }
      if (state.startsWith("08") || TRANSIENT.contains(state)) {
        return true;
      }
    }
    return false;
  }

  /** Returns the server's message for a batch error, whose own message is only a summary. */
  public static String describe(SQLException error) {
    SQLException detail = error;
    while (detail.getNextException() != null) {
      detail = detail.getNextException();
    }
    String state = detail.getSQLState();
    return (state == null ? "" : "SQLSTATE " + state + ": ") + detail.getMessage();
  }
}
