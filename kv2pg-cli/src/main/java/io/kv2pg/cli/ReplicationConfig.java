package io.kv2pg.cli;

import io.kv2pg.OnDataError;
import io.kv2pg.OnGap;
import io.kv2pg.TreeMapping;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.rocksdb.ColumnFamilyHandle;

/**
 * A replication described by a YAML file (see docs/CONFIG.md): the store, the Postgres server, the
 * replication's name and its declared tables.
 *
 * @param file the config file, for messages
 * @param name the replication's name
 * @param onGap what a gap in the store's write-ahead log does ({@code on-gap})
 * @param store the RocksDB folder
 * @param storeLine the line of {@code rocksdb.path}
 * @param secondaryPath where {@code verify} keeps its secondary instance's files; {@code null} for
 *     a temporary folder
 * @param postgres the server
 * @param tables the declared tables, in order
 * @param onDataError what to do with a change its data makes impossible to apply ({@code on-data-error})
 */
record ReplicationConfig(Path file, String name, OnGap onGap, Path store, int storeLine, Path secondaryPath,
    PostgresConfig postgres, List<TableConfig> tables, OnDataError onDataError) {

  ReplicationConfig {
    tables = List.copyOf(tables);
  }

  /**
   * The Postgres server.
   *
   * @param url the JDBC URL
   * @param password the password read from {@code password-env} or {@code password-file}, or
   *     {@code null}
   * @param line the line of {@code postgres.url}
   */
  record PostgresConfig(String url, String password, int line) {
    @Override
    public String toString() {
      return "PostgresConfig[" + Redact.text(url) + "]";
    }
  }

  /** Returns a copy with another Postgres server. */
  ReplicationConfig withPostgres(PostgresConfig postgres) {
    return new ReplicationConfig(file, name, onGap, store, storeLine, secondaryPath, postgres, tables, onDataError);
  }

  /**
   * Checks that the store has every column family a table names.
   *
   * @throws ConfigException naming the table's line otherwise
   */
  void checkFamilies(java.util.Set<String> families) {
    for (int i = 0; i < tables.size(); i++) {
      TableConfig table = tables.get(i);
      if (!families.contains(table.columnFamily())) {
        throw ConfigException.at(file, table.columnFamilyLine(), "tables[" + i + "].column-family",
            "the store at " + store + " has no column family '" + table.columnFamily() + "' (it has: "
                + String.join(", ", families) + ")");
      }
    }
  }

  /** Builds the tree mappings naming their column families, for a followed store. */
  List<TreeMapping> mappingsByName() {
    return tables.stream().map(TableConfig::mappingByName).toList();
  }

  /**
   * Builds the tree mappings against an open store.
   *
   * @throws ConfigException if a table names a column family the store does not have
   */
  /** Returns the mappings' names, in order, as {@link TreeMapping#name()} gives them. */
  List<String> mappingNames() {
    return tables.stream().map(table -> table.name() != null ? table.name()
        : table.prefix().length == 0 ? table.columnFamily()
        : table.columnFamily() + "/" + java.util.HexFormat.of().formatHex(table.prefix())).toList();
  }

  List<TreeMapping> mappings(Map<String, ColumnFamilyHandle> families) {
    List<TreeMapping> mappings = new ArrayList<>();
    for (int i = 0; i < tables.size(); i++) {
      TableConfig table = tables.get(i);
      ColumnFamilyHandle family = families.get(table.columnFamily());
      if (family == null) {
        throw ConfigException.at(file, table.columnFamilyLine(), "tables[" + i + "].column-family",
            "the store at " + store + " has no column family '" + table.columnFamily() + "' (it has: "
                + String.join(", ", families.keySet()) + ")");
      }
      mappings.add(table.mapping(family));
    }
    return mappings;
  }
}
