package io.kv2pg;

import java.util.List;
import java.util.Objects;

/**
 * What a {@link Verification#repair()} found, did, and found afterwards. Immutable and
 * thread-safe; no component is {@code null} (the constructor throws {@link NullPointerException}
 * for one) and the lists are unmodifiable copies.
 *
 * @param before the comparison the repair worked from (its differences are what was repaired)
 * @param tables what was repaired, one per declared mapping, in the replication's order
 * @param after a new comparison, run once the repair had committed: whether the tables now equal
 *     the store
 * @param statementMappings the names of the statement mappings, which were neither compared nor
 *     repaired: kv2pg does not know their tables
 */
public record RepairReport(VerificationReport before, List<TableRepair> tables, VerificationReport after,
    List<String> statementMappings) {

  public RepairReport {
    Objects.requireNonNull(before, "before");
    Objects.requireNonNull(after, "after");
    tables = List.copyOf(tables);
    statementMappings = List.copyOf(statementMappings);
  }

  /**
   * What was repaired in one table. Each count is of rows written (or keys left alone), exactly;
   * together they add up to the table's differences in {@link #before()}.
   *
   * @param mapping the mapping's name
   * @param table the table's name
   * @param inserted rows the table lacked, inserted from the store
   * @param updated rows that differed, rewritten from the store
   * @param deleted rows the store lacks, deleted
   * @param leftAlone differing rows left as they were, because the store wrote their key after
   *     the checkpoint the comparison read (the replication applies that write itself), or because
   *     the key has a dead letter ({@link Replication#retryDeadLetters()})
   * @param notRepairable differing rows kv2pg cannot write: the store's value cannot be decoded
   *     (the comparison's samples name them)
   */
  public record TableRepair(String mapping, String table, long inserted, long updated, long deleted,
      long leftAlone, long notRepairable) {

    public TableRepair {
      Objects.requireNonNull(mapping, "mapping");
      Objects.requireNonNull(table, "table");
    }

    /** Returns the rows written: inserted, updated and deleted. */
    public long repaired() {
      return inserted + updated + deleted;
    }
  }

  /** Returns whether every declared table equals the store after the repair (as {@link #after()} says). */
  public boolean isClean() {
    return after.isClean();
  }

  /** Returns the rows written in every table. */
  public long repaired() {
    return tables.stream().mapToLong(TableRepair::repaired).sum();
  }

  /** Returns one line per table: what was repaired. */
  public String formatRepairs() {
    StringBuilder text = new StringBuilder();
    for (TableRepair table : tables) {
      text.append("REPAIRED ").append(table.table()).append(" (mapping '").append(table.mapping()).append("'): ")
          .append(table.inserted()).append(" inserted, ").append(table.updated()).append(" updated, ")
          .append(table.deleted()).append(" deleted");
      if (table.leftAlone() > 0) {
        text.append("; ").append(table.leftAlone())
            .append(" left alone (written after the checkpoint, or with a dead letter)");
      }
      if (table.notRepairable() > 0) {
        text.append("; ").append(table.notRepairable()).append(" not repairable (the store's value cannot be decoded)");
      }
      text.append('\n');
    }
    for (String mapping : statementMappings) {
      text.append("SKIPPED mapping '").append(mapping).append("': statement mappings are not verified or repaired")
          .append(" (kv2pg does not know their tables)\n");
    }
    return text.toString();
  }

  /** Returns a readable report: the comparison, what was repaired, the comparison after. */
  public String format() {
    return before.format() + formatRepairs() + "after the repair: " + after.format();
  }
}
