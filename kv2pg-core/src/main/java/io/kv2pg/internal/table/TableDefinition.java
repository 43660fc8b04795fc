package io.kv2pg.internal.table;

import io.kv2pg.internal.decode.FieldDecoder;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A declared table: its name, its key columns (decoded from the key after the prefix), its value
 * columns (decoded from the value) and the column that keeps the raw key. Generates the SQL that
 * kv2pg runs on it, with every identifier quoted. Immutable and thread-safe.
 *
 * @param schema the schema, or {@code null} for the connection's search path
 * @param table the table's name
 * @param keyColumns the key columns, the primary key; empty to key the table by the raw key
 * @param valueColumns the value columns, nullable
 * @param rawKeyColumn the {@code bytea} column that holds the whole raw key, unique
 * @param prefixLength how many key bytes the prefix takes, skipped by key decoders
 */
public record TableDefinition(String schema, String table, List<Column> keyColumns,
    List<Column> valueColumns, String rawKeyColumn, int prefixLength) {

  /** One decoded column. */
  public record Column(String name, FieldDecoder decoder) {}

  public TableDefinition {
    keyColumns = List.copyOf(keyColumns);
    valueColumns = List.copyOf(valueColumns);
  }

  /** Returns the quoted, qualified table name. */
  public String qualifiedName() {
    return (schema == null ? "" : PgText.quoteIdentifier(schema) + ".") + PgText.quoteIdentifier(table);
  }

  /** Returns the name for messages: {@code schema.table} or {@code table}. */
  public String displayName() {
    return schema == null ? table : schema + "." + table;
  }

  /** Returns every column kv2pg writes, in row order: keys, values, raw key. */
  public List<String> columnNames() {
    List<String> names = new ArrayList<>();
    keyColumns.forEach(column -> names.add(column.name()));
    valueColumns.forEach(column -> names.add(column.name()));
    names.add(rawKeyColumn);
    return names;
  }

  /** Returns the Postgres types of {@link #columnNames()}, in the same order. */
  public List<String> columnTypes() {
    List<String> types = new ArrayList<>();
    keyColumns.forEach(column -> types.add(column.decoder().postgresType()));
    valueColumns.forEach(column -> types.add(column.decoder().postgresType()));
    types.add("bytea");
    return types;
  }

  /** Returns the primary key's columns. */
  public List<String> primaryKey() {
    return keyColumns.isEmpty() ? List.of(rawKeyColumn) : keyColumns.stream().map(Column::name).toList();
  }

  /** Returns the quoted, comma-separated column list. */
  public String quotedColumns() {
    return columnNames().stream().map(PgText::quoteIdentifier).collect(Collectors.joining(", "));
  }

  /** Returns the {@code create table if not exists} statement. */
  public String createSql() {
    StringBuilder sql = new StringBuilder("create table if not exists ").append(qualifiedName()).append(" (");
    for (Column column : keyColumns) {
      sql.append(PgText.quoteIdentifier(column.name())).append(' ')
          .append(column.decoder().postgresType()).append(" not null, ");
    }
    for (Column column : valueColumns) {
      sql.append(PgText.quoteIdentifier(column.name())).append(' ')
          .append(column.decoder().postgresType()).append(", ");
    }
    sql.append(PgText.quoteIdentifier(rawKeyColumn)).append(" bytea not null");
    if (!keyColumns.isEmpty()) {
      sql.append(" unique");
    }
    sql.append(", primary key (")
        .append(primaryKey().stream().map(PgText::quoteIdentifier).collect(Collectors.joining(", ")))
        .append("))");
    return sql.toString();
  }

  /** Returns {@code on conflict (…) do update set …} for an upsert into the table. */
  public String onConflictSql() {
    List<String> key = primaryKey();
    List<String> updated = columnNames().stream().filter(name -> !key.contains(name)).toList();
    String target = key.stream().map(PgText::quoteIdentifier).collect(Collectors.joining(", "));
    if (updated.isEmpty()) {
      return " on conflict (" + target + ") do nothing";
    }
    return " on conflict (" + target + ") do update set " + updated.stream()
        .map(name -> PgText.quoteIdentifier(name) + " = excluded." + PgText.quoteIdentifier(name))
        .collect(Collectors.joining(", "));
  }
}
