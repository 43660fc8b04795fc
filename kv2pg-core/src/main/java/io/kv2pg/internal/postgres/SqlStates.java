package io.kv2pg.internal.postgres;

import java.sql.SQLException;

/**
 * Tells errors that go away by themselves from errors that the data or the configuration cause,
 * by SQLSTATE, never by message. The one owner of kv2pg's SQLSTATE knowledge.
 */
public final class SqlStates {

  /** What retrying an error may achieve. */
  public enum Retry {
    /** The server went away or the transaction lost a race: retry for as long as it takes. */
    UNTIL_IT_WORKS,
    /**
     * A limit of the server or the session (a timeout, a resource, a program limit): may pass, but
     * may also come back for the same work every time. Retried a few times, on a new session (so a
     * changed setting takes effect), with smaller work where possible, then reported.
     */
    A_FEW_TIMES,
    /** The data, the statements or the permissions are wrong: retrying cannot help. */
    NEVER
  }

  /** The SQLSTATEs that kv2pg treats specially, with the setting or resource each one points at. */
  enum State {
    SERIALIZATION_FAILURE("40001", Retry.UNTIL_IT_WORKS, null),
    DEADLOCK_DETECTED("40P01", Retry.UNTIL_IT_WORKS, null),
    ADMIN_SHUTDOWN("57P01", Retry.UNTIL_IT_WORKS, null),
    CRASH_SHUTDOWN("57P02", Retry.UNTIL_IT_WORKS, null),
    CANNOT_CONNECT_NOW("57P03", Retry.UNTIL_IT_WORKS, null),
    QUERY_CANCELED("57014", Retry.A_FEW_TIMES,
        "a statement was cancelled: statement_timeout is too low for this work, or an administrator"
            + " cancelled it; raise statement_timeout for kv2pg's role or database (ALTER ROLE ... SET"
            + " statement_timeout = '10min')"),
    LOCK_NOT_AVAILABLE("55P03", Retry.A_FEW_TIMES,
        "a lock was not granted within lock_timeout; end the session that holds the lock on the"
            + " mapped table, or raise lock_timeout for kv2pg's role"),
    INSUFFICIENT_RESOURCES("53000", Retry.A_FEW_TIMES,
        "the server lacks a resource; check its log (max_locks_per_transaction, shared memory)"),
    DISK_FULL("53100", Retry.A_FEW_TIMES, "the server's disk is full; free space on it"),
    OUT_OF_MEMORY("53200", Retry.A_FEW_TIMES,
        "the server ran out of memory; lower work_mem or give the server more memory"),
    TOO_MANY_CONNECTIONS("53300", Retry.A_FEW_TIMES,
        "the server refused a connection; raise max_connections or the role's connection limit,"
            + " or close other sessions"),
    CONFIGURATION_LIMIT_EXCEEDED("53400", Retry.A_FEW_TIMES,
        "a configured limit of the server was reached; check its log"),
    PROGRAM_LIMIT_EXCEEDED("54000", Retry.A_FEW_TIMES,
        "a statement exceeded a limit of Postgres (too many parameters, a row or index entry too"
            + " large); write smaller values or smaller batches"),
    SYSTEM_ERROR("58000", Retry.A_FEW_TIMES, "the server had a system error; check its log"),
    IO_ERROR("58030", Retry.A_FEW_TIMES, "the server had an I/O error; check its disks and its log");

    private final String code;
    private final Retry retry;
    private final String advice;

    State(String code, Retry retry, String advice) {
      this.code = code;
      this.retry = retry;
      this.advice = advice;
    }

    static State of(String code) {
      for (State state : values()) {
        if (state.code.equals(code)) {
          return state;
        }
      }
      return null;
    }
  }

  private SqlStates() {}

  /** Returns what retrying may achieve, judged by the most hopeful state in the error chain. */
  public static Retry retry(SQLException error) {
    Retry best = Retry.NEVER;
    for (SQLException e = error; e != null; e = e.getNextException()) {
      Retry retry = retry(e.getSQLState());
      if (retry.compareTo(best) < 0) {
        best = retry;
      }
    }
    return best;
  }

  private static Retry retry(String code) {
    if (code == null) {
      return Retry.NEVER;
    }
    if (code.startsWith("08")) {
      return Retry.UNTIL_IT_WORKS; // connection_exception
    }
    State state = State.of(code);
    return state == null ? Retry.NEVER : state.retry;
  }

  /** Returns whether the error says that the connection failed or could not be made. */
  public static boolean isConnectionError(SQLException error) {
    String code = error.getSQLState();
    return code != null && code.startsWith("08");
  }

  /** Returns whether Postgres ended the transaction as a deadlock (40P01), anywhere in the error chain. */
  public static boolean isDeadlock(SQLException error) {
    for (SQLException e = error; e != null; e = e.getNextException()) {
      if (State.DEADLOCK_DETECTED.code.equals(e.getSQLState())) {
        return true;
      }
    }
    return false;
  }

  /** Returns whether retrying the same work later may succeed, a few times or always. */
  public static boolean isTransient(SQLException error) {
    return retry(error) != Retry.NEVER;
  }

  /**
   * Returns which setting or resource a limit error points at and what to change, such as
   * "statement_timeout is too low ...", or a generic hint for a state kv2pg does not know.
   */
  public static String advice(SQLException error) {
    for (SQLException e = error; e != null; e = e.getNextException()) {
      State state = State.of(e.getSQLState());
      if (state != null && state.advice != null) {
        return state.advice;
      }
    }
    return "check the server's log";
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
