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
 * @param partitions how many hash partitions kv2pg creates, or 0 for a table that kv2pg does not
 *     partition
 */
public record TableDefinition(String schema, String table, List<Column> keyColumns,
    List<Column> valueColumns, String rawKeyColumn, int prefixLength, int partitions) {

  /** One decoded column. */
  public record Column(String name, FieldDecoder decoder) {}

  public TableDefinition {
    keyColumns = List.copyOf(keyColumns);
    valueColumns = List.copyOf(valueColumns);
    if (partitions < 0) {
      throw new IllegalArgumentException("partitions must not be negative but was " + partitions);
    }
  }

  /** A table that kv2pg does not partition. */
  public TableDefinition(String schema, String table, List<Column> keyColumns, List<Column> valueColumns,
      String rawKeyColumn, int prefixLength) {
    this(schema, table, keyColumns, valueColumns, rawKeyColumn, prefixLength, 0);
  }

  /** Returns whether kv2pg creates the table hash-partitioned. */
  public boolean partitioned() {
    return partitions > 0;
  }

  /**
   * Returns the column the table is hash-partitioned by: the first key column, or the raw key
   * column when there are no key columns. Both are in the primary key, so every constraint that
   * kv2pg declares includes it, as Postgres (and Citus, as the distribution column) requires.
   */
  public String partitionColumn() {
    return keyColumns.isEmpty() ? rawKeyColumn : keyColumns.get(0).name();
  }

  /**
   * Returns the columns of the unique constraint that keeps raw keys unique, when the primary key
   * does not: the raw key column, joined by the partition column in a partitioned table. Since the
   * key columns are decoded from the raw key, {@code (raw key, first key column)} is as strict.
   * Empty when the raw key is the primary key.
   */
  public List<String> rawKeyUnique() {
    if (keyColumns.isEmpty()) {
      return List.of();
    }
    return partitioned() ? List.of(rawKeyColumn, partitionColumn()) : List.of(rawKeyColumn);
  }

  /** Returns the name of partition {@code remainder}: the table's name, {@code _p} and the number. */
  public String partitionName(int remainder) {
    return table + "_p" + remainder;
  }

  /** Returns the quoted, qualified name of partition {@code remainder}, in the table's schema. */
  public String qualifiedPartitionName(int remainder) {
    return (schema == null ? "" : PgText.quoteIdentifier(schema) + ".")
        + PgText.quoteIdentifier(partitionName(remainder));
  }

  /** Returns the {@code create table if not exists … partition of …} statement of one partition. */
  public String createPartitionSql(int remainder) {
    return "create table if not exists " + qualifiedPartitionName(remainder) + " partition of "
        + qualifiedName() + " for values with (modulus " + partitions + ", remainder " + remainder + ")";
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
    List<String> unique = rawKeyUnique();
    if (unique.size() == 1) {
      sql.append(" unique"); // As before partitions existed: the DDL is in the mapping's fingerprint.
    } else if (!unique.isEmpty()) {
      sql.append(", unique (").append(quoted(unique)).append(')');
    }
    sql.append(", primary key (").append(quoted(primaryKey())).append("))");
    if (partitioned()) {
      sql.append(" partition by hash (").append(PgText.quoteIdentifier(partitionColumn())).append(')');
    }
    return sql.toString();
  }

  private static String quoted(List<String> names) {
    return names.stream().map(PgText::quoteIdentifier).collect(Collectors.joining(", "));
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
