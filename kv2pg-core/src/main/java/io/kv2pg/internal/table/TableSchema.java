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
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Creates a declared table when it is missing, and otherwise checks that the existing table
 * matches the declaration: same column types, same primary key, a unique raw-key column, and no
 * undeclared column that would refuse every insert. A nullable value column that the declaration
 * adds is added to the table; every other difference is reported, all at once.
 *
 * <p>A table declared with partitions must be hash-partitioned on the partition column, and its
 * partitions must have the declared modulus: the missing ones are created (so a table kv2pg
 * created gets all of them), and one of another modulus is a difference. A table partitioned
 * although not declared so (by its owner, or a Citus distributed table) is used as it is when its
 * columns and constraints pass. The raw key's uniqueness is accepted from a unique index on the raw
 * key column alone or on it and the first key column, which partitioned tables need.
 */
final class TableSchema {
  private record Existing(String type, boolean notNull, boolean hasDefault) {}

  /** A hash partition's bound as {@code pg_get_expr} prints it. */
  private static final Pattern HASH_BOUND = Pattern.compile("FOR VALUES WITH \\(modulus (\\d+), remainder (\\d+)\\)");

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
    if (!table.keyColumns().isEmpty() && !hasRawKeyUniqueIndex(connection)) {
      differences.add("column \"" + table.rawKeyColumn() + "\" has no unique index (on it alone, or on ("
          + table.rawKeyColumn() + ", " + table.keyColumns().get(0).name() + ") as a partitioned table needs)");
    }
    List<Integer> missingPartitions = table.partitioned() ? checkPartitions(connection, differences) : List.of();
    throwIfDifferent(differences);
    try (Statement statement = connection.createStatement()) {
      for (String addition : additions) {
        statement.execute(addition);
      }
      for (int remainder : missingPartitions) {
        statement.execute(table.createPartitionSql(remainder));
      }
    }
    if (!missingPartitions.isEmpty()) {
      // "if not exists" skips a partition whose name another relation has: its remainder stays uncovered.
      checkPartitions(connection, differences).forEach(remainder -> differences.add("partition "
          + table.partitionName(remainder) + " (remainder " + remainder + ") cannot be created: a relation"
          + " of that name exists and is not that partition of the table; rename it, or rename the table"));
      throwIfDifferent(differences);
    }
  }

  private void throwIfDifferent(List<String> differences) {
    if (!differences.isEmpty()) {
      throw new ReplicationException(ReplicationException.Kind.CONFIGURATION, "Table " + table.displayName() + " does not match mapping '"
          + mappingName + "':\n  - " + String.join("\n  - ", differences)
          + "\nAlter the table (or drop it to let kv2pg create it), or change the declaration.",
          null, mappingName, null, null, -1);
    }
  }

  /**
   * Checks that the table is hash-partitioned on the partition column, and that its partitions
   * have the declared modulus; adds what differs to {@code differences}.
   *
   * @return the remainders that no partition holds yet, in order
   */
  private List<Integer> checkPartitions(Connection connection, List<String> differences) throws SQLException {
    String declared = "HASH (" + table.partitionColumn() + ")";
    try (PreparedStatement statement = connection.prepareStatement("""
        select p.partstrat, p.partnatts, a.attname, pg_get_partkeydef(p.partrelid)
        from pg_partitioned_table p
        left join pg_attribute a on a.attrelid = p.partrelid and a.attnum = p.partattrs[0]
        where p.partrelid = ?::regclass""")) {
      statement.setString(1, table.qualifiedName());
      try (ResultSet rows = statement.executeQuery()) {
        if (!rows.next()) {
          differences.add("the table is not partitioned but is declared with " + table.partitions()
              + " partitions by " + declared + " (Postgres cannot partition an existing table: drop it to"
              + " let kv2pg create it, or declare no partitions)");
          return List.of();
        }
        if (!rows.getString(1).equals("h") || rows.getInt(2) != 1
            || !table.partitionColumn().equals(rows.getString(3))) {
          differences.add("the table is partitioned by " + rows.getString(4)
              + " but is declared partitioned by " + declared);
          return List.of();
        }
      }
    }
    List<Integer> missing = new ArrayList<>();
    for (int remainder = 0; remainder < table.partitions(); remainder++) {
      missing.add(remainder);
    }
    try (PreparedStatement statement = connection.prepareStatement("""
        select c.relname, pg_get_expr(c.relpartbound, c.oid)
        from pg_inherits i
        join pg_class c on c.oid = i.inhrelid
        where i.inhparent = ?::regclass
        order by c.relname""")) {
      statement.setString(1, table.qualifiedName());
      try (ResultSet rows = statement.executeQuery()) {
        while (rows.next()) {
          String bound = rows.getString(2);
          Matcher hash = HASH_BOUND.matcher(bound);
          if (hash.matches() && Integer.parseInt(hash.group(1)) == table.partitions()) {
            missing.remove(Integer.valueOf(hash.group(2)));
          } else {
            differences.add("partition " + rows.getString(1) + " is " + bound + " but " + table.partitions()
                + " partitions are declared (modulus " + table.partitions() + "); to change the number of"
                + " partitions, drop the table to let kv2pg create it and copy the store again");
          }
        }
      }
    }
    return missing;
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

  /**
   * Returns whether a unique index keeps raw keys unique: on the raw key column alone, or on it
   * and the first key column (the partition column, which a partitioned or distributed table's
   * unique indexes must include; the key columns are decoded from the raw key, so it is as strict).
   */
  private boolean hasRawKeyUniqueIndex(Connection connection) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement("""
        select exists (
          select 1 from pg_index i
          join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
          left join pg_attribute b on b.attrelid = i.indrelid and b.attnum = i.indkey[1]
          where i.indrelid = ?::regclass and i.indisunique and a.attname = ?
            and (i.indnkeyatts = 1 or (i.indnkeyatts = 2 and b.attname = ?)))""")) {
      statement.setString(1, table.qualifiedName());
      statement.setString(2, table.rawKeyColumn());
      statement.setString(3, table.keyColumns().get(0).name());
      try (ResultSet rows = statement.executeQuery()) {
        rows.next();
        return rows.getBoolean(1);
      }
    }
  }
}
