package io.kv2pg.internal.verify;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.kv2pg.ReplicationException;
import io.kv2pg.internal.change.Change;
import io.kv2pg.internal.table.DeclaredTableWriter;
import io.kv2pg.internal.table.PgText;
import io.kv2pg.internal.table.RowFormatter;
import io.kv2pg.internal.table.TableDefinition;
import java.io.IOException;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.function.Predicate;

/**
 * Compares the rows of a declared table that its mapping owns (all, or with a key range the rows
 * in it) with the store's entries for the mapping, streaming both in raw-key
 * order (byte-wise, as RocksDB and Postgres's {@code bytea} both sort), so memory stays bounded.
 * Runs inside the caller's transaction. Not thread-safe.
 */
public final class TableVerifier {
  private static final ObjectMapper JSON =
      JsonMapper.builder().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS).build();
  /** JSON numbers are equal by value: jsonb prints 1E+2 as 100 and keeps 2.50 as written. */
  private static final Comparator<JsonNode> JSON_VALUES = (a, b) ->
      a.isNumber() && b.isNumber() ? a.decimalValue().compareTo(b.decimalValue()) : a.equals(b) ? 0 : 1;
  private static final HexFormat HEX = HexFormat.of();
  private static final int FETCH_SIZE = 5_000;

  /**
   * Where the comparison hands each difference it counts, in key order, for a repair. A row whose
   * entry cannot be decoded is counted as different but not handed on (no row can be written for
   * it); nor is a key left out as changed since the checkpoint.
   */
  public interface Differences {
    /** Hands nothing on: a comparison only. */
    Differences NONE = new Differences() {
      @Override
      public void missing(Change entry) {}

      @Override
      public void different(Change entry) {}

      @Override
      public void extra(byte[] key) {}
    };

    /** The store holds {@code entry}, the table has no row for its key. */
    void missing(Change entry) throws SQLException;

    /** The table's row for the entry's key differs from the decoded entry. */
    void different(Change entry) throws SQLException;

    /** The table has a row for {@code key}, the store has no entry. */
    void extra(byte[] key) throws SQLException;
  }

  /** What the comparison counted. */
  public record Counts(long storeRows, long tableRows, long missing, long extra, long different,
      long inFlight, List<String> samples) {}

  private final DeclaredTableWriter writer;
  private final int maxSamples;
  private long storeRows;
  private long tableRows;
  private long missing;
  private long extra;
  private long different;
  private long inFlight;
  private final List<String> samples = new ArrayList<>();

  public TableVerifier(DeclaredTableWriter writer, int maxSamples) {
    this.writer = writer;
    this.maxSamples = maxSamples;
  }

  /**
   * Compares.
   *
   * @param store the mapping's entries as changes (upserts), in key order
   * @param changedSince keys to leave out: changed after the checkpoint
   */
  public Counts compare(Connection connection, Iterator<Change> store, Predicate<byte[]> changedSince)
      throws SQLException {
    return compare(connection, store, changedSince, Differences.NONE);
  }

  /**
   * Compares, and hands each difference to {@code differences} as it is found.
   *
   * @param store the mapping's entries as changes (upserts), in key order
   * @param changedSince keys to leave out: changed after the checkpoint
   */
  public Counts compare(Connection connection, Iterator<Change> store, Predicate<byte[]> changedSince,
      Differences differences) throws SQLException {
    TableDefinition table = writer.table();
    List<String> types = table.columnTypes();
    List<String> names = table.columnNames();
    StringBuilder select = new StringBuilder("select ");
    for (int i = 0; i < names.size(); i++) {
      select.append(i == 0 ? "" : ", ").append(PgText.quoteIdentifier(names.get(i))).append("::text as c").append(i);
    }
    String raw = PgText.quoteIdentifier(table.rawKeyColumn());
    // Only the rows the mapping owns: with a key range, the table's other rows are other stores'.
    byte[] from = writer.ownedFrom();
    byte[] end = writer.ownedUntil();
    select.append(", ").append(raw).append(" as raw_key from ").append(table.qualifiedName())
        .append(" where ").append(raw).append(" >= ?").append(end == null ? "" : " and " + raw + " < ?")
        .append(" order by raw_key");
    try (PreparedStatement settings = connection.prepareStatement("set local bytea_output = 'hex'")) {
      settings.execute();
    }
    RowFormatter formatter = new RowFormatter(table, writer);
    try (PreparedStatement statement = connection.prepareStatement(select.toString())) {
      statement.setFetchSize(FETCH_SIZE);
      statement.setBytes(1, from);
      if (end != null) {
        statement.setBytes(2, end);
      }
      try (ResultSet rows = statement.executeQuery()) {
        boolean haveRow = rows.next();
        Change entry = store.hasNext() ? store.next() : null;
        while (haveRow || entry != null) {
          if (entry != null && !writer.owns(entry.key())) {
            // The store holds a key outside the mapping's key range: no row of the table is its to
            // compare, and a repair must not write one. Counted as different, like an entry that
            // cannot be decoded.
            storeRows++;
            if (changedSince.test(entry.key())) {
              inFlight++;
            } else {
              different++;
              sample("key " + HEX.formatHex(entry.key()) + ": in the store, outside the mapping's keyRange");
            }
            entry = store.hasNext() ? store.next() : null;
            continue;
          }
          byte[] rowKey = haveRow ? rows.getBytes(names.size() + 1) : null;
          int order = rowKey == null ? -1 : entry == null ? 1 : Arrays.compareUnsigned(entry.key(), rowKey);
          if (order <= 0) {
            storeRows++;
          }
          if (order >= 0) {
            tableRows++;
          }
          byte[] key = order <= 0 ? entry.key() : rowKey;
          if (changedSince.test(key)) {
            inFlight++;
          } else if (order < 0) {
            missing++;
            sample("key " + HEX.formatHex(key) + ": in the store, missing from the table");
            differences.missing(entry);
          } else if (order > 0) {
            extra++;
            sample("key " + HEX.formatHex(key) + ": in the table, not in the store");
            differences.extra(key);
          } else if (!compareRow(formatter, entry, rows, names, types)) {
            differences.different(entry);
          }
          if (order <= 0) {
            entry = store.hasNext() ? store.next() : null;
          }
          if (order >= 0) {
            haveRow = rows.next();
          }
        }
      }
    }
    return new Counts(storeRows, tableRows, missing, extra, different, inFlight, samples);
  }

  /** Returns whether the row equals the entry, or the entry cannot be decoded (counted, not repairable). */
  private boolean compareRow(RowFormatter formatter, Change entry, ResultSet rows, List<String> names,
      List<String> types) throws SQLException {
    String[] expected;
    try {
      expected = formatter.format(entry);
    } catch (ReplicationException e) {
      different++;
      sample("key " + HEX.formatHex(entry.key()) + ": cannot be decoded: " + e.getMessage());
      return true;
    }
    List<String> columns = new ArrayList<>();
    for (int i = 0; i < names.size(); i++) {
      String actual = rows.getString(i + 1);
      if (!same(types.get(i), expected[i], actual)) {
        columns.add(names.get(i) + ": store " + show(expected[i]) + ", table " + show(actual));
      }
    }
    if (!columns.isEmpty()) {
      different++;
      sample("key " + HEX.formatHex(entry.key()) + ": " + String.join("; ", columns));
      return false;
    }
    return true;
  }

  private static boolean same(String type, String expected, String actual) {
    if (expected == null || actual == null) {
      return expected == actual;
    }
    try {
      return switch (type) {
        case "jsonb", "json" -> JSON.readTree(expected).equals(JSON_VALUES, JSON.readTree(actual));
        case "double precision", "real", "float8", "float4" ->
            Double.compare(Double.parseDouble(expected), Double.parseDouble(actual)) == 0;
        case "numeric" -> new BigDecimal(expected).compareTo(new BigDecimal(actual)) == 0;
        case "boolean", "bool" -> parseBoolean(expected) == parseBoolean(actual);
        default -> expected.equals(actual);
      };
    } catch (IOException | NumberFormatException e) {
      return expected.equals(actual);
    }
  }

  private static boolean parseBoolean(String text) {
    return text.equals("t") || text.equals("true");
  }

  private static String show(String value) {
    if (value == null) {
      return "NULL";
    }
    return value.length() > 80 ? "'" + value.substring(0, 77) + "...'" : "'" + value + "'";
  }

  private void sample(String text) {
    if (samples.size() < maxSamples) {
      samples.add(text);
    }
  }
}
