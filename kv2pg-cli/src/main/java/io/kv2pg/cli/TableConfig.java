package io.kv2pg.cli;

import io.kv2pg.ColumnDecoder;
import io.kv2pg.TreeMapping;
import java.util.List;
import org.rocksdb.ColumnFamilyHandle;

/**
 * One declared table of a config file.
 *
 * @param name the mapping's name, or {@code null} for the default
 * @param columnFamily the column family read
 * @param columnFamilyLine the line of {@code column-family}
 * @param prefix the key prefix (empty for every key)
 * @param table {@code table} or {@code schema.table}
 * @param rawKeyColumn the raw key column's name, or {@code null} for the default
 * @param keyColumns the key columns, in order
 * @param valueColumns the value columns, in order
 * @param createCommands SQL run after the table is created, or {@code null}
 * @param partitions the number of hash partitions, or 0 for an unpartitioned table
 * @param keyFrom the first key of the mapping's key range ({@code key-range}), or {@code null} for none
 * @param keyUntil the end of the key range (exclusive), or {@code null} for the end of the prefix
 */
record TableConfig(String name, String columnFamily, int columnFamilyLine, byte[] prefix, String table,
    String rawKeyColumn, List<Column> keyColumns, List<Column> valueColumns, String createCommands,
    int partitions, byte[] keyFrom, byte[] keyUntil) {

  /** A column and its decoder. */
  record Column(String name, ColumnDecoder decoder) {}

  TableConfig {
    prefix = prefix.clone();
    keyFrom = keyFrom == null ? null : keyFrom.clone();
    keyUntil = keyUntil == null ? null : keyUntil.clone();
    keyColumns = List.copyOf(keyColumns);
    valueColumns = List.copyOf(valueColumns);
  }

  /** Returns the schema named by {@link #table()}, or {@code null}. */
  String schema() {
    int dot = table.indexOf('.');
    return dot < 0 ? null : table.substring(0, dot);
  }

  TreeMapping mapping(ColumnFamilyHandle family) {
    return mapping(TreeMapping.builder(family));
  }

  /** Builds the mapping naming its column family, for a followed store. */
  TreeMapping mappingByName() {
    return mapping(TreeMapping.builder(columnFamily()));
  }

  private TreeMapping mapping(TreeMapping.Builder start) {
    TreeMapping.Builder builder = start.prefix(prefix).table(table);
    if (name != null) {
      builder.name(name);
    }
    if (rawKeyColumn != null) {
      builder.rawKeyColumn(rawKeyColumn);
    }
    keyColumns.forEach(column -> builder.keyColumn(column.name(), column.decoder()));
    valueColumns.forEach(column -> builder.valueColumn(column.name(), column.decoder()));
    if (createCommands != null) {
      builder.createCommands(createCommands);
    }
    if (partitions > 0) {
      builder.partitions(partitions);
    }
    if (keyFrom != null) {
      builder.keyRange(keyFrom, keyUntil);
    }
    return builder.build();
  }
}
