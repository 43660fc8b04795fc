package io.kv2pg;

import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * What a {@link Verification} found. Immutable.
 *
 * @param storeSequence the sequence number of the store snapshot compared
 * @param appliedSequence the replication's checkpoint in the Postgres snapshot compared, if it has
 *     one
 * @param tables one result per declared mapping, in the replication's order
 */
public record VerificationReport(long storeSequence, OptionalLong appliedSequence, List<TableResult> tables) {

  public VerificationReport {
    Objects.requireNonNull(appliedSequence, "appliedSequence");
    tables = List.copyOf(tables);
  }

  /**
   * One mapping's comparison.
   *
   * @param mapping the mapping's name
   * @param table the table's name
   * @param storeRows entries the store holds for the mapping
   * @param tableRows rows the table holds for the mapping's keys
   * @param missing entries of the store that the table lacks
   * @param extra rows of the table that the store lacks
   * @param different rows whose columns differ from the decoded entry
   * @param inFlight keys left out because the store changed them after the replication's
   *     checkpoint (the replication has not applied those writes yet)
   * @param samples a few differences, described for people
   */
  public record TableResult(String mapping, String table, long storeRows, long tableRows,
      long missing, long extra, long different, long inFlight, List<String> samples) {

    public TableResult {
      samples = List.copyOf(samples);
    }

    /** Returns whether the table equals the store for every key compared. */
    public boolean isClean() {
      return missing == 0 && extra == 0 && different == 0;
    }
  }

  /** Returns whether every table equals the store. */
  public boolean isClean() {
    return tables.stream().allMatch(TableResult::isClean);
  }

  /** Returns a readable report, one paragraph per table. */
  public String format() {
    StringBuilder text = new StringBuilder();
    text.append("store snapshot at sequence ").append(storeSequence);
    appliedSequence.ifPresent(applied -> text.append(", replication applied through ").append(applied));
    text.append('\n');
    for (TableResult table : tables) {
      text.append(table.isClean() ? "OK    " : "DIFF  ").append(table.table())
          .append(" (mapping '").append(table.mapping()).append("'): ")
          .append(table.storeRows()).append(" store entries, ").append(table.tableRows()).append(" rows");
      if (!table.isClean()) {
        text.append("; ").append(table.missing()).append(" missing, ").append(table.extra())
            .append(" extra, ").append(table.different()).append(" different");
      }
      if (table.inFlight() > 0) {
        text.append("; ").append(table.inFlight()).append(" not compared (written after the checkpoint)");
      }
      text.append('\n');
      for (String sample : table.samples()) {
        text.append("      ").append(sample).append('\n');
      }
    }
    return text.toString();
  }
}
