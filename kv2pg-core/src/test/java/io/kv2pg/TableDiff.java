package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/** Compares a table with the store as sorted, rendered rows, and reports differences readably. */
final class TableDiff {
  private static final HexFormat HEX = HexFormat.of();

  private TableDiff() {}

  /** One table and the store entries it must equal, both rendered as comparable strings. */
  record Table(String name, String select, String family, byte[] prefix, Function<byte[][], String> expected) {
    /** The store's entries for this table, rendered by {@code expected}, sorted. */
    List<String> storeRows(TestStore store) {
      return TableDiff.storeRows(store, family, prefix, expected);
    }

    /** This table's rows as {@code select} returns them, rendered, sorted. */
    List<String> tableRows(String url) {
      return TableDiff.tableRows(url, select);
    }
  }

  /** The store's entries under {@code prefix}, each rendered by {@code render}, sorted. */
  static List<String> storeRows(TestStore store, String family, byte[] prefix, Function<byte[][], String> render) {
    List<String> rows = new ArrayList<>();
    for (byte[][] entry : store.entries(family, prefix)) {
      rows.add(render.apply(entry));
    }
    Collections.sort(rows);
    return rows;
  }

  /** The rows {@code select} returns, each rendered by {@link #render}, sorted. */
  static List<String> tableRows(String url, String select) {
    List<String> rows = new ArrayList<>();
    for (List<Object> row : TestPostgres.query(url, select)) {
      rows.add(render(row));
    }
    Collections.sort(rows);
    return rows;
  }

  /** Columns joined by '|': bytes as hex, SQL NULL as {@code <null>}. */
  static String render(List<Object> row) {
    List<String> columns = new ArrayList<>(row.size());
    for (Object value : row) {
      columns.add(value == null ? "<null>" : value instanceof byte[] bytes ? HEX.formatHex(bytes) : value.toString());
    }
    return String.join("|", columns);
  }

  /**
   * Fails unless {@code actual} equals {@code expected} (both sorted), naming up to ten rows missing
   * from the table and ten it should not have.
   */
  static void assertSameRows(String context, String table, List<String> expected, List<String> actual) {
    if (!actual.equals(expected)) {
      Set<String> missing = new HashSet<>(expected);
      actual.forEach(missing::remove);
      Set<String> unexpected = new HashSet<>(actual);
      expected.forEach(unexpected::remove);
      fail(context + ": table " + table + " has " + actual.size()
          + " rows, the store " + expected.size() + " entries; missing or different ("
          + missing.size() + "): " + missing.stream().sorted().limit(10).toList()
          + "; unexpected or different (" + unexpected.size() + "): "
          + unexpected.stream().sorted().limit(10).toList());
    }
  }

  /**
   * Every column of a replication's copy progress rows (mapping, snapshot_sequence, resume_after as
   * hex, rows_copied, replication, completed_at), in the given order.
   */
  static List<List<Object>> copyRows(String url, String replication, String orderBy) {
    List<List<Object>> rows = new ArrayList<>();
    for (List<Object> row : TestPostgres.query(url, "select mapping, snapshot_sequence, resume_after,"
        + " rows_copied, replication, completed_at from kv2pg.mapping_copy where replication = '"
        + replication + "' order by " + orderBy)) {
      List<Object> copy = new ArrayList<>(row);
      if (copy.get(2) instanceof byte[] bytes) {
        copy.set(2, HEX.formatHex(bytes)); // comparable by value
      }
      rows.add(copy);
    }
    return rows;
  }

  /** Asserts that the replication's checkpoint is the store's latest sequence number. */
  static void assertCheckpointAtLatest(String url, String replication, TestStore store, String context) {
    assertThat(TestPostgres.query(url,
            "select applied_sequence from kv2pg.replication where name = '" + replication + "'"))
        .as(context + ": checkpoint")
        .containsExactly(List.of(store.db.getLatestSequenceNumber()));
  }
}
