package io.kv2pg.internal.table;

import io.kv2pg.ReplicationException;
import io.kv2pg.internal.change.Change;
import io.kv2pg.internal.change.KeyRanges;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;

/**
 * Writes a declared table with set-based statements: {@code unnest} arrays for small groups, COPY
 * into a temporary staging table plus one {@code INSERT … SELECT … ON CONFLICT} for large ones,
 * {@code DELETE … = ANY(array)} for deletes, and COPY straight into the table for an initial copy
 * into rows it does not hold yet. Immutable and thread-safe; the connection is the caller's.
 */
public final class DeclaredTableWriter implements TableWriter {
  /** Groups at least this large go through COPY and a staging table. */
  static final int STAGE_THRESHOLD = 2_000;

  private final String mappingName;
  private final String treeName;
  private final TableDefinition table;
  private final byte[] prefix;
  private final List<String> createCommands;
  private final String upsertSql;
  private final String stageTable;
  private final String copyIntoTableSql;
  private final String copyIntoStageSql;
  private final String mergeStageSql;
  private final String deleteSql;
  private final String deleteRangeSql;
  private final String deleteRangeToEndSql;

  /**
   * Creates a writer.
   *
   * @param index the mapping's position, which names its staging table
   * @param createCommands the user's commands, run after the table is created (indexes, say)
   */
  public DeclaredTableWriter(String mappingName, String treeName, TableDefinition table, byte[] prefix,
      int index, List<String> createCommands) {
    this.createCommands = List.copyOf(createCommands);
    this.mappingName = mappingName;
    this.treeName = treeName;
    this.table = table;
    this.prefix = prefix.clone();
    List<String> names = table.columnNames();
    List<String> types = table.columnTypes();
    String arrays = names.stream().map(name -> "?::text[]").collect(Collectors.joining(", "));
    StringBuilder casts = new StringBuilder();
    StringBuilder aliases = new StringBuilder();
    for (int i = 0; i < names.size(); i++) {
      casts.append(i == 0 ? "" : ", ").append("u.c").append(i).append("::").append(types.get(i));
      aliases.append(i == 0 ? "" : ", ").append('c').append(i);
    }
    String columns = table.quotedColumns();
    String raw = PgText.quoteIdentifier(table.rawKeyColumn());
    this.upsertSql = "insert into " + table.qualifiedName() + " (" + columns + ") select " + casts
        + " from unnest(" + arrays + ") as u(" + aliases + ")" + table.onConflictSql();
    this.stageTable = PgText.quoteIdentifier("kv2pg_stage_" + index);
    this.copyIntoTableSql = "copy " + table.qualifiedName() + " (" + columns + ") from stdin";
    this.copyIntoStageSql = "copy " + stageTable + " (" + columns + ") from stdin";
    this.mergeStageSql = "insert into " + table.qualifiedName() + " (" + columns + ") select "
        + columns + " from " + stageTable + table.onConflictSql();
    this.deleteSql = "delete from " + table.qualifiedName() + " where " + raw + " = any(?)";
    this.deleteRangeSql = "delete from " + table.qualifiedName() + " where " + raw + " >= ? and " + raw + " < ?";
    this.deleteRangeToEndSql = "delete from " + table.qualifiedName() + " where " + raw + " >= ?";
  }

  @Override
  public String mappingName() {
    return mappingName;
  }

  @Override
  public String treeName() {
    return treeName;
  }

  /** Returns the table. */
  public TableDefinition table() {
    return table;
  }

  @Override
  public String knownTable() {
    return table.qualifiedName();
  }

  @Override
  public boolean holdsRows(Connection connection) throws SQLException {
    try (Statement statement = connection.createStatement();
        ResultSet rows = statement.executeQuery("select exists (select 1 from " + table.qualifiedName() + ")")) {
      rows.next();
      return rows.getBoolean(1);
    }
  }

  @Override
  public void clear(Connection connection) throws SQLException {
    try (Statement statement = connection.createStatement()) {
      statement.executeUpdate("delete from " + table.qualifiedName());
    }
  }

  @Override
  public void prepare(Connection connection) throws SQLException {
    new TableSchema(table, mappingName).createOrCheck(connection);
    try (Statement statement = connection.createStatement()) {
      for (String commands : createCommands) {
        statement.execute(commands);
      }
    }
  }

  @Override
  public void upsert(Connection connection, Collection<Change> changes) throws SQLException {
    if (changes.isEmpty()) {
      return;
    }
    changes = inKeyOrder(changes);
    if (changes.size() >= STAGE_THRESHOLD) {
      try (Statement statement = connection.createStatement()) {
        statement.execute("create temp table if not exists " + stageTable + " (like "
            + table.qualifiedName() + " including defaults) on commit delete rows");
      }
      copyRows(connection, copyIntoStageSql, changes);
      try (Statement statement = connection.createStatement()) {
        statement.executeUpdate(mergeStageSql);
      }
      return;
    }
    int columns = table.columnNames().size();
    String[][] values = new String[columns][changes.size()];
    RowFormatter decoder = new RowFormatter(table, this);
    int row = 0;
    for (Change change : changes) {
      String[] fields = decoder.format(change);
      for (int column = 0; column < columns; column++) {
        values[column][row] = fields[column];
      }
      row++;
    }
    try (PreparedStatement statement = connection.prepareStatement(upsertSql)) {
      for (int column = 0; column < columns; column++) {
        statement.setArray(column + 1, connection.createArrayOf("text", values[column]));
      }
      statement.executeUpdate();
    }
  }

  /**
   * Returns the changes sorted by key. Postgres upserts rows that arrive in index order in about
   * a third less time than rows in write order (neighbouring rows share index and heap pages).
   * Deletes need no sorting: Postgres sorts an {@code = ANY(array)} index condition itself.
   */
  private static List<Change> inKeyOrder(Collection<Change> changes) {
    // Sorting on the keys' first eight bytes as one number makes most comparisons one instruction.
    Keyed[] keyed = new Keyed[changes.size()];
    int i = 0;
    boolean sorted = true;
    for (Change change : changes) {
      keyed[i] = new Keyed(leadingBytes(change.key()), change);
      sorted &= i == 0 || Keyed.ORDER.compare(keyed[i - 1], keyed[i]) <= 0;
      i++;
    }
    if (!sorted) {
      Arrays.sort(keyed, Keyed.ORDER);
    }
    List<Change> result = new ArrayList<>(keyed.length);
    for (Keyed entry : keyed) {
      result.add(entry.change());
    }
    return result;
  }

  /** Returns the key's first eight bytes as an unsigned big-endian number, zero-padded. */
  private static long leadingBytes(byte[] key) {
    long leading = 0;
    for (int i = 0; i < 8; i++) {
      leading = (leading << 8) | (i < key.length ? key[i] & 0xFF : 0);
    }
    return leading;
  }

  private record Keyed(long leading, Change change) {
    static final Comparator<Keyed> ORDER = (a, b) -> {
      int order = Long.compareUnsigned(a.leading, b.leading);
      return order != 0 ? order : Arrays.compareUnsigned(a.change.key(), b.change.key());
    };
  }

  @Override
  public void delete(Connection connection, Collection<Change> changes) throws SQLException {
    if (changes.isEmpty()) {
      return;
    }
    byte[][] keys = new byte[changes.size()][];
    int i = 0;
    for (Change change : changes) {
      keys[i++] = change.key();
    }
    try (PreparedStatement statement = connection.prepareStatement(deleteSql)) {
      Array array = connection.createArrayOf("bytea", keys);
      statement.setArray(1, array);
      statement.executeUpdate();
    }
  }

  @Override
  public void deleteRange(Connection connection, Collection<Change> ranges) throws SQLException {
    for (Change range : ranges) {
      byte[] begin = range.key();
      byte[] end = range.rangeEnd();
      try (PreparedStatement statement =
          connection.prepareStatement(end == null ? deleteRangeToEndSql : deleteRangeSql)) {
        statement.setBytes(1, begin);
        if (end != null) {
          statement.setBytes(2, end);
        }
        statement.executeUpdate();
      }
    }
  }

  @Override
  public boolean copy(Connection connection, List<Change> chunk, byte[] resumeAfter,
      boolean nothingAhead) throws SQLException {
    if (chunk.isEmpty()) {
      return nothingAhead;
    }
    // Only this copy writes the table until it ends, so one probe per run is enough.
    if (nothingAhead || !holdsRowsAfter(connection, resumeAfter)) {
      copyRows(connection, copyIntoTableSql, chunk);
      return true;
    }
    upsert(connection, chunk); // The table already has rows there: merge instead of inserting.
    return false;
  }

  /** Returns whether the table holds a row of this mapping whose raw key sorts after the key. */
  private boolean holdsRowsAfter(Connection connection, byte[] resumeAfter) throws SQLException {
    byte[] from = resumeAfter != null ? resumeAfter : prefix;
    byte[] end = KeyRanges.prefixEnd(prefix);
    String raw = PgText.quoteIdentifier(table.rawKeyColumn());
    // "order by … limit 1" keeps this an index probe: as "exists (…)", the planner picks a
    // sequential scan of the table still being copied, which made the copy quadratic.
    String sql = "select 1 from " + table.qualifiedName() + " where " + raw
        + (resumeAfter != null ? " > ?" : " >= ?") + (end != null ? " and " + raw + " < ?" : "")
        + " order by " + raw + " limit 1";
    try (PreparedStatement statement = connection.prepareStatement(sql)) {
      statement.setBytes(1, from);
      if (end != null) {
        statement.setBytes(2, end);
      }
      try (ResultSet rows = statement.executeQuery()) {
        return rows.next();
      }
    }
  }

  private void copyRows(Connection connection, String sql, Collection<Change> changes) throws SQLException {
    CopyIn copy = connection.unwrap(PGConnection.class).getCopyAPI().copyIn(sql);
    try {
      RowFormatter decoder = new RowFormatter(table, this);
      CopyRowEncoder row = new CopyRowEncoder(copy::writeToCopy);
      for (Change change : changes) {
        decoder.encode(change, row);
      }
      row.flush();
      copy.endCopy();
    } catch (SQLException | RuntimeException e) {
      if (copy.isActive()) {
        try {
          copy.cancelCopy(); // Leaves the connection usable when decoding or writing failed.
        } catch (SQLException cancel) {
          e.addSuppressed(cancel);
        }
      }
      throw e;
    }
  }

  @Override
  public ReplicationException failure(Change change, String reason, Throwable cause) {
    return TableWriter.failure(mappingName, treeName, change, reason, cause);
  }
}
