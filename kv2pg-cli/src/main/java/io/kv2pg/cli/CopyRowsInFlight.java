package io.kv2pg.cli;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.function.LongSupplier;

/**
 * The rows an initial copy has sent to Postgres in the chunk it has not committed yet, read from
 * {@code pg_stat_progress_copy} (PostgreSQL 14 and later) for the connections named {@code
 * applicationName}. A copy commits in chunks of up to 50,000 rows, so a bar of committed rows
 * alone jumps. 0 when the server cannot tell (an older server, no permission): the bar then moves
 * by commits. Used by one thread, with its own connection, opened at the first call.
 */
final class CopyRowsInFlight implements LongSupplier, AutoCloseable {
  private final PostgresTarget target;
  private final String applicationName;
  private Connection connection;
  private PreparedStatement query;
  private boolean unavailable;

  CopyRowsInFlight(PostgresTarget target, String applicationName) {
    this.target = target;
    this.applicationName = applicationName;
  }

  @Override
  public synchronized long getAsLong() {
    if (unavailable) {
      return 0;
    }
    try {
      if (query == null) {
        connection = target.connect();
        query = connection.prepareStatement("select coalesce(sum(p.tuples_processed), 0)"
            + " from pg_stat_progress_copy p join pg_stat_activity a on a.pid = p.pid"
            + " where a.application_name = ?");
        query.setString(1, applicationName);
      }
      try (ResultSet rows = query.executeQuery()) {
        return rows.next() ? rows.getLong(1) : 0;
      }
    } catch (SQLException e) {
      unavailable = true; // Only a display: the bar moves by commits instead.
      close();
      return 0;
    }
  }

  @Override
  public synchronized void close() {
    try {
      if (connection != null) {
        connection.close();
      }
    } catch (SQLException e) {
      // Only a display's connection.
    }
    connection = null;
    query = null;
  }
}
