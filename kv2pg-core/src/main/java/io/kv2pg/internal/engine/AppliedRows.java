package io.kv2pg.internal.engine;

import java.util.List;

/**
 * The rows that one transaction wrote, per mapping (by route position) and kind. Not thread-safe
 * while it is filled; read-only once handed on.
 */
public final class AppliedRows {
  private final long[] upserts;
  private final long[] deletes;

  AppliedRows(int mappings) {
    upserts = new long[mappings];
    deletes = new long[mappings];
  }

  void add(int position, boolean delete, long rows) {
    (delete ? deletes : upserts)[position] += rows;
  }

  /** Returns the number of mappings counted. */
  public int mappings() {
    return upserts.length;
  }

  /** Returns the rows the mapping at {@code position} upserted. */
  public long upserts(int position) {
    return upserts[position];
  }

  /** Returns the rows the mapping at {@code position} deleted (a range delete counts once). */
  public long deletes(int position) {
    return deletes[position];
  }

  /** Returns every row counted. */
  public long total() {
    long total = 0;
    for (int i = 0; i < upserts.length; i++) {
      total += upserts[i] + deletes[i];
    }
    return total;
  }

  /** Returns rows counted for the given positions' names, for messages and tests. */
  String describe(List<String> names) {
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < upserts.length; i++) {
      if (upserts[i] + deletes[i] > 0) {
        text.append(text.length() == 0 ? "" : ", ").append(names.get(i)).append(' ').append(upserts[i])
            .append(" upserts/").append(deletes[i]).append(" deletes");
      }
    }
    return text.length() == 0 ? "no rows" : text.toString();
  }
}
