package io.kv2pg.cli;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What initial copies a run did, read back from kv2pg's own table {@code kv2pg.mapping_copy}: a
 * copy may be over before a progress display first looks.
 */
final class CopySummary {
  private final PostgresTarget target;
  private final String replication;
  private final Timestamp since;

  private CopySummary(PostgresTarget target, String replication, Timestamp since) {
    this.target = target;
    this.replication = replication;
    this.since = since;
  }

  /** Notes the database's clock, before the replication starts. */
  static CopySummary before(PostgresTarget target, String replication) {
    try (Connection connection = target.connectOrExplain();
        PreparedStatement statement = connection.prepareStatement("select clock_timestamp()");
        ResultSet rows = statement.executeQuery()) {
      rows.next();
      return new CopySummary(target, replication, rows.getTimestamp(1));
    } catch (SQLException e) {
      throw new CliException(Main.FOUND, "cannot read the database's clock: " + PostgresTarget.describe(e), e);
    }
  }

  /**
   * Returns "initial copy: N rows (mapping n, …)" for the copies completed since {@link #before},
   * or {@code null} if there were none.
   */
  String describe() {
    List<String> parts = new ArrayList<>();
    long total = 0;
    try (Connection connection = target.connectOrExplain();
        PreparedStatement statement = connection.prepareStatement("""
            select mapping, rows_copied from kv2pg.mapping_copy
            where to_regclass('kv2pg.mapping_copy') is not null and replication = ? and completed_at >= ?
            order by completed_at, mapping""")) {
      statement.setString(1, replication);
      statement.setTimestamp(2, since);
      try (ResultSet rows = statement.executeQuery()) {
        while (rows.next()) {
          parts.add(String.format(Locale.ROOT, "%s %,d", rows.getString(1), rows.getLong(2)));
          total += rows.getLong(2);
        }
      }
    } catch (SQLException e) {
      return null; // Only a summary.
    }
    return parts.isEmpty() ? null
        : String.format(Locale.ROOT, "initial copy: %,d rows (%s)", total, String.join(", ", parts));
  }
}
