package io.kv2pg.cli;

import io.kv2pg.ReplicationException;
import io.kv2pg.ReplicationRecord;
import io.kv2pg.ReplicationRecord.MappingCopy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * What initial copies a run did, read back from the replication's record ({@link
 * ReplicationRecords}): a copy may be over before a progress display first looks.
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

  /** The copies completed since {@link #before}, in the order they completed; empty if unknown. */
  private List<MappingCopy> completed() {
    try {
      Instant from = since.toInstant();
      return target.records().read(replication).map(ReplicationRecord::copies).orElse(List.of()).stream()
          .filter(copy -> copy.completedAt().filter(at -> !at.isBefore(from)).isPresent())
          .sorted(Comparator.comparing((MappingCopy copy) -> copy.completedAt().orElseThrow()))
          .toList();
    } catch (ReplicationException e) {
      return List.of(); // Only a summary.
    }
  }

  /** The rows the copies completed since {@link #before} wrote: one per entry of the store at their snapshot. */
  long rows() {
    return completed().stream().mapToLong(MappingCopy::rowsCopied).sum();
  }

  /**
   * Returns "initial copy: N rows (mapping n, …)" for the copies completed since {@link #before},
   * or {@code null} if there were none.
   */
  String describe() {
    List<String> parts = new ArrayList<>();
    long total = 0;
    for (MappingCopy copy : completed()) {
      parts.add(String.format(Locale.ROOT, "%s %,d", copy.mapping(), copy.rowsCopied()));
      total += copy.rowsCopied();
    }
    return parts.isEmpty() ? null
        : String.format(Locale.ROOT, "initial copy: %,d rows (%s)", total, String.join(", ", parts));
  }
}
