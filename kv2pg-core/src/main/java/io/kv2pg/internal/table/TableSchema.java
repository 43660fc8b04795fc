package io.kv2pg.internal.table;

import io.kv2pg.ReplicationException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Creates a declared table when it is missing, and otherwise checks that the existing table
 * matches the declaration: same column types, same primary key, a unique raw-key column, and no
 * undeclared column that would refuse every insert. A nullable value column that the declaration
 * adds is added to the table; every other difference is reported, all at once.
 */
final class TableSchema {
  private record Existing(String type, boolean notNull, boolean hasDefault) {}

  private final TableDefinition table;
  private final String mappingName;

  TableSchema(TableDefinition table, String mappingName) {
    this.table = table;
    this.mappingName = mappingName;
  }

  void createOrCheck(Connection connection) throws SQLException {
    createSchemaIfMissing(connection);
    try (Statement statement = connection.createStatement()) {
      statement.execute(table.createSql());
    }
    Map<String, Existing> existing = existingColumns(connection);
    List<String> differences = new ArrayList<>();
    List<String> additions = new ArrayList<>();
    List<String> names = table.columnNames();
    List<String> types = table.columnTypes();
    int valueStart = table.keyColumns().size();
    int valueEnd = valueStart + table.valueColumns().size();
    for (int i = 0; i < names.size(); i++) {
      String name = names.get(i);
      String declared = canonicalType(connection, types.get(i));
      Existing column = existing.remove(name);
      if (column == null) {
        if (i >= valueStart && i < valueEnd) {
          additions.add("alter table " + table.qualifiedName() + " add column "
              + PgText.quoteIdentifier(name) + " " + types.get(i));
        } else {
          differences.add("column \"" + name + "\" (" + declared + ") is missing");
        }
      } else if (!column.type().equals(declared)) {
        differences.add("column \"" + name + "\" is " + column.type() + " but is declared " + declared);
      }
    }
    existing.forEach((name, column) -> {
      if (column.notNull() && !column.hasDefault()) {
        differences.add("column \"" + name + "\" is not declared, and is NOT NULL without a default,"
            + " so kv2pg cannot insert rows");
      }
    });
    List<String> primaryKey = primaryKey(connection);
    if (!primaryKey.equals(table.primaryKey())) {
      differences.add("the primary key is " + (primaryKey.isEmpty() ? "missing" : primaryKey)
          + " but is declared " + table.primaryKey());
    }
    if (!table.keyColumns().isEmpty() && !hasUniqueIndexOn(connection, table.rawKeyColumn())) {
      differences.add("column \"" + table.rawKeyColumn() + "\" has no unique index");
    }
    if (!differences.isEmpty()) {
      throw new ReplicationException(ReplicationException.Kind.CONFIGURATION, "Table " + table.displayName() + " does not match mapping '"
          + mappingName + "':\n  - " + String.join("\n  - ", differences)
          + "\nAlter the table (or drop it to let kv2pg create it), or change the declaration.",
          null, mappingName, null, null, -1);
    }
    try (Statement statement = connection.createStatement()) {
      for (String addition : additions) {
        statement.execute(addition);
      }
    }
  }

  /**
   * Creates the table's schema when it is missing. An existing schema is not touched: {@code create
   * schema if not exists} would need the CREATE privilege on the database even then.
   */
  private void createSchemaIfMissing(Connection connection) throws SQLException {
    if (table.schema() == null) {
      return;
    }
    try (PreparedStatement statement =
        connection.prepareStatement("select exists (select 1 from pg_namespace where nspname = ?)")) {
      statement.setString(1, table.schema());
      try (ResultSet rows = statement.executeQuery()) {
        rows.next();
        if (rows.getBoolean(1)) {
          return;
        }
      }
    }
    try (Statement statement = connection.createStatement()) {
      statement.execute("create schema if not exists " + PgText.quoteIdentifier(table.schema()));
    }
  }

  private Map<String, Existing> existingColumns(Connection connection) throws SQLException {
    Map<String, Existing> columns = new LinkedHashMap<>();
    try (PreparedStatement statement = connection.prepareStatement("""
        select a.attname, format_type(a.atttypid, null), a.attnotnull, a.atthasdef
        from pg_attribute a
        where a.attrelid = ?::regclass and a.attnum > 0 and not a.attisdropped
        order by a.attnum""")) {
      statement.setString(1, table.qualifiedName());
      try (ResultSet rows = statement.executeQuery()) {
        while (rows.next()) {
          columns.put(rows.getString(1),
              new Existing(rows.getString(2), rows.getBoolean(3), rows.getBoolean(4)));
        }
      }
    }
    return columns;
  }

  private static String canonicalType(Connection connection, String type) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement("select format_type(?::regtype, null)")) {
      statement.setString(1, type);
      try (ResultSet rows = statement.executeQuery()) {
        rows.next();
        return rows.getString(1);
      }
    }
  }

  private List<String> primaryKey(Connection connection) throws SQLException {
    List<String> columns = new ArrayList<>();
    try (PreparedStatement statement = connection.prepareStatement("""
        select a.attname
        from pg_index i
        cross join lateral unnest(i.indkey) with ordinality as k(attnum, position)
        join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
        where i.indrelid = ?::regclass and i.indisprimary
        order by k.position""")) {
      statement.setString(1, table.qualifiedName());
      try (ResultSet rows = statement.executeQuery()) {
        while (rows.next()) {
          columns.add(rows.getString(1));
        }
      }
    }
    return columns;
  }

  private boolean hasUniqueIndexOn(Connection connection, String column) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement("""
        select exists (
          select 1 from pg_index i
          join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
          where i.indrelid = ?::regclass and i.indisunique and i.indnkeyatts = 1 and a.attname = ?)""")) {
      statement.setString(1, table.qualifiedName());
      statement.setString(2, column);
      try (ResultSet rows = statement.executeQuery()) {
        rows.next();
        return rows.getBoolean(1);
      }
    }
  }
}
