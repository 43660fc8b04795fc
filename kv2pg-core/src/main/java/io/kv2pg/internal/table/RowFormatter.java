package io.kv2pg.internal.table;

import io.kv2pg.ReplicationException;
import io.kv2pg.internal.change.Change;
import io.kv2pg.internal.decode.FieldDecoder;
import io.kv2pg.internal.decode.FieldInput;
import io.kv2pg.internal.decode.IntegerFieldDecoder;
import io.kv2pg.internal.decode.JsonFieldPlan;
import java.util.List;

/**
 * Decodes a change into a declared table's row, as Postgres text fields in {@link
 * TableDefinition#columnNames()} order, or straight into a COPY. Reads a JSON value once however
 * many columns read it.
 * Not thread-safe: one per thread.
 */
public final class RowFormatter {
  private final TableDefinition table;
  private final TableWriter errors;
  private final FieldInput keyInput;
  private final FieldInput valueInput;
  /** The decoded row, reused: a group of 50,000 rows otherwise leaves 50,000 arrays behind. */
  private final Object[] values;

  /**
   * Creates a formatter.
   *
   * @param errors builds the error for a change that cannot be decoded
   */
  public RowFormatter(TableDefinition table, TableWriter errors) {
    this.table = table;
    this.errors = errors;
    this.keyInput = new FieldInput(JsonFieldPlan.of(decoders(table.keyColumns())));
    this.valueInput = new FieldInput(JsonFieldPlan.of(decoders(table.valueColumns())));
    this.values = new Object[table.keyColumns().size() + table.valueColumns().size() + 1];
  }

  private static List<FieldDecoder> decoders(List<TableDefinition.Column> columns) {
    return columns.stream().map(TableDefinition.Column::decoder).toList();
  }

  /**
   * Returns the row's text fields; {@code null} for SQL {@code NULL}.
   *
   * @throws io.kv2pg.ReplicationException naming the key and column that cannot be decoded
   */
  public String[] format(Change change) {
    Object[] decoded = decode(change);
    String[] fields = new String[decoded.length];
    for (int i = 0; i < decoded.length; i++) {
      fields[i] = PgText.format(decoded[i]);
    }
    return fields;
  }

  /**
   * Appends the row to a COPY.
   *
   * @throws io.kv2pg.ReplicationException naming the key and column that cannot be decoded
   */
  public void encode(Change change, CopyRowEncoder row) throws java.sql.SQLException {
    try {
      encodeFields(change, row);
    } catch (RuntimeException e) {
      row.discardRow(); // The fields are written as they are decoded: none of a bad row stays.
      throw e;
    }
    row.endRow();
  }

  private void encodeFields(Change change, CopyRowEncoder row) {
    keyInput.reset(change.key(), table.prefixLength());
    for (TableDefinition.Column column : table.keyColumns()) {
      if (column.decoder() instanceof IntegerFieldDecoder integer) {
        row.field(decodeLong(column, integer, keyInput, change, "key"));
      } else {
        row.field(decodeKey(column, change));
      }
    }
    valueInput.reset(change.value(), 0);
    for (TableDefinition.Column column : table.valueColumns()) {
      if (column.decoder() instanceof IntegerFieldDecoder integer) {
        row.field(decodeLong(column, integer, valueInput, change, "value"));
      } else {
        row.field(decode(column, valueInput, change, "value"));
      }
    }
    row.field(change.key());
  }

  private Object[] decode(Change change) {
    int i = 0;
    keyInput.reset(change.key(), table.prefixLength());
    for (TableDefinition.Column column : table.keyColumns()) {
      values[i++] = decodeKey(column, change);
    }
    valueInput.reset(change.value(), 0);
    for (TableDefinition.Column column : table.valueColumns()) {
      values[i++] = decode(column, valueInput, change, "value");
    }
    values[i] = change.key();
    return values;
  }

  private Object decodeKey(TableDefinition.Column column, Change change) {
    Object value = decode(column, keyInput, change, "key");
    if (value == null) {
      throw errors.failure(change, "key column \"" + column.name() + "\" decoded to null", null);
    }
    return value;
  }

  private long decodeLong(TableDefinition.Column column, IntegerFieldDecoder decoder, FieldInput input,
      Change change, String part) {
    try {
      return decoder.decodeLong(input);
    } catch (RuntimeException e) {
      throw failure(column, change, part, e);
    }
  }

  private ReplicationException failure(TableDefinition.Column column, Change change, String part,
      RuntimeException e) {
    return errors.failure(change, "column \"" + column.name() + "\" (" + column.decoder().describe()
        + " of the " + part + ") cannot be decoded: " + e.getMessage(), e);
  }

  private Object decode(TableDefinition.Column column, FieldInput input, Change change, String part) {
    try {
      return column.decoder().decode(input);
    } catch (RuntimeException e) {
      throw failure(column, change, part, e);
    }
  }
}
