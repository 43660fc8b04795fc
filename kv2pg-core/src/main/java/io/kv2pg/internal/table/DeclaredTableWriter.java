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
import java.util.HexFormat;
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
  /** The first raw key of the rows this mapping owns: the key range's start, else the prefix. */
  private final byte[] ownedFrom;
  /** The end (exclusive) of the rows this mapping owns, or {@code null} for no end. */
  private final byte[] ownedUntil;
  /** Whether the mapping has a key range, so owns only part of its table's rows. */
  private final boolean ranged;
  /** {@code " and <raw key in the owned range>"} for a ranged mapping, else empty. */
  private final String andOwned;

  /**
   * Creates a writer for a mapping that owns every row of its table.
   *
   * @param index the mapping's position, which names its staging table
   * @param createCommands the user's commands, run after the table is created (indexes, say)
   */
  public DeclaredTableWriter(String mappingName, String treeName, TableDefinition table, byte[] prefix,
      int index, List<String> createCommands) {
    this(mappingName, treeName, table, prefix, index, createCommands, null, null);
  }

  /**
   * Creates a writer.
   *
   * @param index the mapping's position, which names its staging table
   * @param createCommands the user's commands, run after the table is created (indexes, say)
   * @param keyFrom the first key of the mapping's key range (whole key, within the prefix), or
   *     {@code null}: the mapping owns every row of its table
   * @param keyUntil the key range's end, exclusive, or {@code null} for the end of the prefix
   */
  public DeclaredTableWriter(String mappingName, String treeName, TableDefinition table, byte[] prefix,
      int index, List<String> createCommands, byte[] keyFrom, byte[] keyUntil) {
    this.ranged = keyFrom != null;
    this.ownedFrom = ranged ? keyFrom.clone() : prefix.clone();
    this.ownedUntil = ranged && keyUntil != null ? keyUntil.clone() : KeyRanges.prefixEnd(prefix);
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
    // Literals rather than parameters: the same condition joins every statement, and the planner
    // sees the bounds, so each stays a range condition on the raw key's unique index.
    this.andOwned = !ranged ? "" : " and " + raw + " >= " + PgText.byteaLiteral(ownedFrom)
        + (ownedUntil == null ? "" : " and " + raw + " < " + PgText.byteaLiteral(ownedUntil));
    this.deleteSql = "delete from " + table.qualifiedName() + " where " + raw + " = any(?)" + andOwned;
    this.deleteRangeSql = "delete from " + table.qualifiedName() + " where " + raw + " >= ? and " + raw + " < ?"
        + andOwned;
    this.deleteRangeToEndSql = "delete from " + table.qualifiedName() + " where " + raw + " >= ?" + andOwned;
  }

  /** Returns the first raw key of the rows this mapping owns (a copy). */
  public byte[] ownedFrom() {
    return ownedFrom.clone();
  }

  /** Returns the end (exclusive) of the rows this mapping owns, or {@code null} for no end (a copy). */
  public byte[] ownedUntil() {
    return ownedUntil == null ? null : ownedUntil.clone();
  }

  /** Returns whether the mapping owns the row of this raw key. */
  public boolean owns(byte[] key) {
    return KeyRanges.contains(ownedFrom, ownedUntil, key);
  }

  /**
   * Returns {@code false} for a mapping with a key range: it owns only the rows in the range, and
   * its {@link #clear} leaves the table's other rows alone.
   */
  @Override
  public boolean clearsWholeTable() {
    return !ranged;
  }

  /**
   * Returns the error for a put of a key outside the mapping's key range, or {@code null} if the
   * mapping owns the key.
   */
  private ReplicationException outsideRange(Change change) {
    if (!ranged || owns(change.key())) {
      return null;
    }
    HexFormat hex = HexFormat.of();
    return failure(change, "the key lies outside the mapping's keyRange [" + hex.formatHex(ownedFrom) + ", "
        + (ownedUntil == null ? "end" : hex.formatHex(ownedUntil)) + "), the rows of table "
        + table.displayName() + " that this store owns: other stores' replications may write the rest. Declare a"
        + " wider keyRange (TreeMapping.Builder.keyRange, key-range in YAML) if this store owns the key, or move"
        + " the key to the store whose range holds it", null);
  }

  /** Fails on the first change whose key the mapping does not own. */
  private void checkOwned(Collection<Change> changes) {
    if (!ranged) {
      return;
    }
    for (Change change : changes) {
      ReplicationException outside = outsideRange(change);
      if (outside != null) {
        throw outside;
      }
    }
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

  /** Whether the table holds a row this mapping owns: with a key range, only rows in it count. */
  @Override
  public boolean holdsRows(Connection connection) throws SQLException {
    String where = ranged ? " where true" + andOwned : "";
    try (Statement statement = connection.createStatement();
        ResultSet rows = statement.executeQuery("select exists (select 1 from " + table.qualifiedName() + where
            + ")")) {
      rows.next();
      return rows.getBoolean(1);
    }
  }

  /** Deletes the rows this mapping owns: the whole table, or with a key range the rows in it. */
  @Override
  public void clear(Connection connection) throws SQLException {
    try (Statement statement = connection.createStatement()) {
      statement.executeUpdate("delete from " + table.qualifiedName() + (ranged ? " where true" + andOwned : ""));
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
    checkOwned(changes);
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
   * a third less time than rows in write order (neighbouring rows share index and heap pages), and
   * every statement then locks its rows in one order, so two transactions that write some of the
   * same rows (two replications of one table, a repair) wait for each other instead of deadlocking.
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
    // In key order too: an index scan of "= any(array)" visits the index in order whatever the
    // array's, but a bitmap or sequential scan locks rows in heap order, and a sorted array costs
    // next to nothing next to the statement.
    byte[][] keys = new byte[changes.size()][];
    int i = 0;
    for (Change change : inKeyOrder(changes)) {
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
    checkOwned(chunk);
    // Only this copy writes the mapping's rows until it ends, so one probe per run is enough.
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
        + (resumeAfter != null ? " > ?" : " >= ?") + (end != null ? " and " + raw + " < ?" : "") + andOwned
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
