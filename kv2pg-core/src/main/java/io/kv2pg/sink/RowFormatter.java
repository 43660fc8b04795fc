package io.kv2pg.sink;

import io.kv2pg.change.Change;
import io.kv2pg.change.FieldInput;

/**
 * Decodes a change into a declared table's row, as Postgres text fields in {@link
 * TableDefinition#columnNames()} order. Parses a JSON value once however many columns read it.
 * Not thread-safe: one per thread.
 */
public final class RowFormatter {
  private final TableDefinition table;
  private final TableWriter errors;
  private final FieldInput keyInput = new FieldInput();
  private final FieldInput valueInput = new FieldInput();

  /**
   * Creates a formatter.
   *
   * @param errors builds the error for a change that cannot be decoded
   */
  public RowFormatter(TableDefinition table, TableWriter errors) {
    this.table = table;
    this.errors = errors;
  }

  /**
   * Returns the row's text fields; {@code null} for SQL {@code NULL}.
   *
   * @throws io.kv2pg.ReplicationException naming the key and column that cannot be decoded
   */
  public String[] format(Change change) {
    String[] fields = new String[table.keyColumns().size() + table.valueColumns().size() + 1];
    int i = 0;
    keyInput.reset(change.key(), table.prefixLength());
    for (TableDefinition.Column column : table.keyColumns()) {
      String field = decode(column, keyInput, change, "key");
      if (field == null) {
        throw errors.failure(change, "key column \"" + column.name() + "\" decoded to null", null);
      }
      fields[i++] = field;
    }
    valueInput.reset(change.value(), 0);
    for (TableDefinition.Column column : table.valueColumns()) {
      fields[i++] = decode(column, valueInput, change, "value");
    }
    fields[i] = PgText.format(change.key());
    return fields;
  }

  private String decode(TableDefinition.Column column, FieldInput input, Change change, String part) {
    try {
      return PgText.format(column.decoder().decode(input));
    } catch (RuntimeException e) {
      throw errors.failure(change, "column \"" + column.name() + "\" (" + column.decoder().describe()
          + " of the " + part + ") cannot be decoded: " + e.getMessage(), e);
    }
  }
}
