package io.kv2pg;

import io.kv2pg.internal.table.DeclaredMappingPlan;
import io.kv2pg.internal.table.MappingPlan;
import io.kv2pg.internal.table.PreparedSql;
import io.kv2pg.internal.table.StatementMappingPlan;
import io.kv2pg.internal.table.TableDefinition;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDBException;

/**
 * How the entries of one tree (a RocksDB column family), optionally restricted to a key prefix,
 * become Postgres rows: an upsert for every put, a delete for every removed key.
 *
 * <p>Several mappings may read the same tree, with different prefixes or into different tables;
 * each sees every key that starts with its prefix. Immutable and thread-safe; build with {@link
 * #builder(ColumnFamilyHandle)} or, naming the column family, {@link #builder(String)}.
 */
public final class TreeMapping {
  /** The most partitions {@link Builder#partitions(int)} takes. */
  public static final int MAX_PARTITIONS = 1024;

  /** The handle given to the builder, or {@code null} for a mapping that names its column family. */
  private final ColumnFamilyHandle columnFamily;
  private final String treeName;
  private final String name;
  private final byte[] prefix;
  private final boolean declared;
  /** Makes the plan once the column family's handle is known. */
  private final java.util.function.Function<ColumnFamilyHandle, MappingPlan> planMaker;
  /** The plan for {@link #columnFamily}, made at once when the builder was given a handle. */
  private final MappingPlan plan;

  private TreeMapping(Builder builder, String treeName) {
    this.columnFamily = builder.columnFamily;
    this.treeName = treeName;
    byte[] prefix = builder.prefix.clone();
    this.prefix = prefix;
    String name =
        builder.name != null
            ? builder.name
            : prefix.length == 0 ? treeName : treeName + "/" + HexFormat.of().formatHex(prefix);
    this.name = name;
    List<String> createCommands = List.copyOf(builder.createCommands);
    if (builder.table != null) {
      TableDefinition definition = new TableDefinition(builder.schema, builder.table, List.copyOf(builder.keyColumns),
          List.copyOf(builder.valueColumns), builder.rawKeyColumn, prefix.length, builder.partitions);
      byte[] keyFrom = builder.keyFrom;
      byte[] keyUntil = builder.keyUntil;
      this.planMaker = handle -> new DeclaredMappingPlan(name, treeName, handle, prefix, definition, createCommands,
          keyFrom, keyUntil);
    } else {
      PreparedSql insert = builder.insert;
      InsertParameters insertParameters = builder.insertParameters;
      PreparedSql remove = builder.remove;
      RemoveParameters removeParameters = builder.removeParameters;
      PreparedSql removeRange = builder.removeRange;
      RemoveRangeParameters removeRangeParameters = builder.removeRangeParameters;
      String clear = builder.clear;
      this.planMaker = handle -> new StatementMappingPlan(name, treeName, handle, prefix, createCommands,
          insert, insertParameters, remove, removeParameters, removeRange, removeRangeParameters, clear);
    }
    this.plan = columnFamily != null ? planMaker.apply(columnFamily) : null;
    this.declared = builder.table != null;
  }

  /**
   * Starts describing a mapping of the given column family.
   *
   * @param columnFamily an open handle of the store that the replication reads
   * @throws NullPointerException if {@code columnFamily} is {@code null}
   */
  public static Builder builder(ColumnFamilyHandle columnFamily) {
    return new Builder(Objects.requireNonNull(columnFamily, "columnFamily must not be null"), null);
  }

  /**
   * Starts describing a mapping of the column family with the given name, found when the
   * replication starts: in the followed store ({@link Replication.Builder#follow}), or, with {@link
   * Replication.Builder#source}, among the default column family and the handles of the
   * replication's other mappings. A followed store's mappings must name their column family this
   * way.
   *
   * @param columnFamilyName the name as RocksDB has it, in UTF-8 ({@code "default"} for the default
   *     column family)
   * @throws NullPointerException if {@code columnFamilyName} is {@code null}
   * @throws IllegalArgumentException if it is empty
   */
  public static Builder builder(String columnFamilyName) {
    Objects.requireNonNull(columnFamilyName, "columnFamilyName must not be null");
    if (columnFamilyName.isEmpty()) {
      throw new IllegalArgumentException("columnFamilyName must not be empty");
    }
    return new Builder(null, columnFamilyName);
  }

  /**
   * Returns the mapping's name: the one given to {@link Builder#name(String)}, else the column
   * family's name followed, for a prefixed mapping, by {@code /} and the prefix in hex. The name
   * identifies the mapping's copy progress in Postgres.
   */
  public String name() {
    return name;
  }

  /** Returns the name of the column family the mapping reads. */
  public String treeName() {
    return treeName;
  }

  /** Returns a copy of the key prefix (empty for the whole tree). */
  public byte[] prefix() {
    return prefix.clone();
  }

  /** Returns whether the mapping is a declared table (rather than user statements). */
  public boolean isDeclaredTable() {
    return declared;
  }

  /** Returns the handle the builder was given, or {@code null} if the mapping names its column family. */
  ColumnFamilyHandle columnFamily() {
    return columnFamily;
  }

  /** Returns how the engine runs this mapping, reading the given handle of its column family. */
  MappingPlan plan(ColumnFamilyHandle handle) {
    return handle == columnFamily && plan != null ? plan : planMaker.apply(handle);
  }

  @Override
  public String toString() {
    return "TreeMapping[" + name + "]";
  }

  /**
   * Builds a {@link TreeMapping}. Each setter checks its argument at once and names it in the
   * exception; {@link #build()} checks that the statements are there. Not thread-safe.
   */
  public static final class Builder {
    private final ColumnFamilyHandle columnFamily;
    private final String columnFamilyName;
    private String name;
    private byte[] prefix = new byte[0];
    private final List<String> createCommands = new ArrayList<>();
    private PreparedSql insert;
    private InsertParameters insertParameters;
    private PreparedSql remove;
    private RemoveParameters removeParameters;
    private PreparedSql removeRange;
    private RemoveRangeParameters removeRangeParameters;
    private String clear;
    private String schema;
    private String table;
    private final List<TableDefinition.Column> keyColumns = new ArrayList<>();
    private final List<TableDefinition.Column> valueColumns = new ArrayList<>();
    private final Set<String> columnNames = new HashSet<>();
    private String rawKeyColumn = "kv_key";
    private int partitions;
    /** The first key of {@link #keyRange}, or {@code null} without one. */
    private byte[] keyFrom;
    /** The end of {@link #keyRange} (exclusive), or {@code null}: to the end of the prefix. */
    private byte[] keyUntil;

    private Builder(ColumnFamilyHandle columnFamily, String columnFamilyName) {
      this.columnFamily = columnFamily;
      this.columnFamilyName = columnFamilyName;
    }

    /**
     * Names the mapping (default: the tree's name, plus the prefix in hex). Needed only to tell
     * apart two mappings of the same tree and prefix.
     */
    public Builder name(String name) {
      Objects.requireNonNull(name, "name must not be null");
      if (name.isBlank()) {
        throw new IllegalArgumentException("name must not be blank");
      }
      this.name = name;
      return this;
    }

    /** Restricts the mapping to keys that start with {@code prefix} (default: empty, every key). */
    public Builder prefix(byte[] prefix) {
      this.prefix = Objects.requireNonNull(prefix, "prefix must not be null").clone();
      return this;
    }

    /**
     * Adds idempotent commands run at every start before anything is written, such as {@code
     * create table if not exists …}. The string may hold several statements separated by
     * semicolons. Optional; may be called more than once.
     */
    public Builder createCommands(String sql) {
      Objects.requireNonNull(sql, "createCommands must not be null");
      if (sql.isBlank()) {
        throw new IllegalArgumentException("createCommands must not be blank");
      }
      createCommands.add(sql);
      return this;
    }

    /**
     * Sets the statement run for every put, normally an upsert ({@code insert … on conflict … do
     * update}), and the function that gives its parameters. Placeholders are written {@code ?} or
     * {@code $1, $2, …}, not both. Required.
     */
    public Builder insert(String sql, InsertParameters parameters) {
      this.insert = parse("insert", checkSql("insert", sql));
      this.insertParameters = Objects.requireNonNull(parameters, "insert parameters must not be null");
      return this;
    }

    /**
     * Sets the statement run for every removed key and the function that gives its parameters.
     * Required.
     */
    public Builder remove(String sql, RemoveParameters parameters) {
      this.remove = parse("remove", checkSql("remove", sql));
      this.removeParameters = Objects.requireNonNull(parameters, "remove parameters must not be null");
      return this;
    }

    /**
     * Sets the statement run for every removed key range ({@code deleteRange}) and the function
     * that gives its parameters from the range, clipped to the mapping's prefix ({@code end} is
     * {@code null} when the range has no end). Optional for statement mappings: without it, a
     * range delete on the tree fails the replication. Declared tables need none.
     */
    public Builder removeRange(String sql, RemoveRangeParameters parameters) {
      this.removeRange = parse("removeRange", checkSql("removeRange", sql));
      this.removeRangeParameters =
          Objects.requireNonNull(parameters, "removeRange parameters must not be null");
      return this;
    }

    /**
     * Sets the statement that removes every row this mapping wrote, such as {@code delete from
     * orders} (no parameters; it may hold several statements). kv2pg runs it when it copies the
     * mapping into a table that already holds its rows (the mapping changed, came back after being
     * left out, was {@linkplain ReplicationRecords#reset(String, String) reset}, or a write-ahead
     * log gap is {@linkplain OnGap#RECOPY re-copied}), in the same transaction as the new copy, so
     * readers see the old rows until the new ones are complete and no row whose key left the
     * store remains. Optional for statement mappings: without it, such a re-copy fails with a
     * {@link ReplicationException.Kind#CONFIGURATION} error. Declared tables need none: kv2pg
     * clears them itself. Not part of what makes a mapping "changed": adding it copies nothing.
     *
     * @param sql the statement; must not be {@code null} or blank
     */
    public Builder clear(String sql) {
      this.clear = checkSql("clear", sql);
      return this;
    }

    /**
     * Makes this a declared table: kv2pg creates it if it does not exist (primary key from the key
     * columns), checks it against the declaration at every start, and writes it with its bulk
     * paths. The name is {@code table} or {@code schema.table}; each part is used exactly as
     * given, quoted (so {@code Orders} and {@code orders} are different tables).
     */
    public Builder table(String name) {
      Objects.requireNonNull(name, "table must not be null");
      String[] parts = name.split("\\.", -1);
      if (parts.length > 2 || Arrays.stream(parts).anyMatch(String::isBlank)) {
        throw new IllegalArgumentException("table must be 'table' or 'schema.table' but was '" + name
            + "'; for a name that holds a dot, use table(schema, table)");
      }
      this.schema = parts.length == 2 ? parts[0] : null;
      this.table = parts[parts.length - 1];
      return this;
    }

    /**
     * Makes this a declared table in the given schema, as {@link #table(String)} does; both names
     * are used exactly as given, quoted, so they may hold any character, a dot included.
     */
    public Builder table(String schema, String table) {
      Objects.requireNonNull(schema, "table schema must not be null");
      Objects.requireNonNull(table, "table must not be null");
      if (schema.isBlank() || table.isBlank()) {
        throw new IllegalArgumentException("table schema and name must not be blank but were '" + schema
            + "' and '" + table + "'");
      }
      this.schema = schema;
      this.table = table;
      return this;
    }

    /**
     * Adds a key column of the declared table, decoded from the key after the prefix. Key columns
     * form the primary key, in the order added, and are NOT NULL. Without key columns the table
     * is keyed by the raw key column.
     */
    public Builder keyColumn(String name, ColumnDecoder decoder) {
      keyColumns.add(column("keyColumn", name, decoder));
      return this;
    }

    /** Adds a nullable value column of the declared table, decoded from the value. */
    public Builder valueColumn(String name, ColumnDecoder decoder) {
      valueColumns.add(column("valueColumn", name, decoder));
      return this;
    }

    /**
     * Names the {@code bytea} column that keeps the whole raw key (default {@code kv_key}); it is
     * unique, and serves range deletes, verification and re-copies whatever the key's encoding.
     */
    public Builder rawKeyColumn(String name) {
      Objects.requireNonNull(name, "rawKeyColumn must not be null");
      if (name.isBlank()) {
        throw new IllegalArgumentException("rawKeyColumn must not be blank");
      }
      this.rawKeyColumn = name;
      return this;
    }

    /**
     * Creates the declared table hash-partitioned into {@code count} partitions (default: not
     * partitioned). The table is {@code partition by hash} on its first key column, or on the raw
     * key column when there are no key columns; kv2pg creates partitions {@code <table>_p0} to
     * {@code <table>_p<count-1>} in the table's schema, {@code for values with (modulus count,
     * remainder i)}. Every constraint kv2pg declares includes the partition column, as Postgres
     * requires of a partitioned table: the primary key (the key columns) does, and the raw key's
     * uniqueness becomes {@code unique (raw key column, first key column)}, as strict since the key
     * columns are decoded from the raw key. The same column suits a Citus distribution column (see
     * docs/SCALING.md).
     *
     * <p>At every start an existing table must be hash-partitioned on that column with partitions
     * of this modulus, else the start fails with a {@link ReplicationException.Kind#CONFIGURATION}
     * error (Postgres cannot partition an existing table, nor change a modulus in place: drop the
     * table to let kv2pg create it); missing partitions are created. The count is part of the
     * declaration: changing it is a changed mapping. A table partitioned by its owner is used
     * without this setting as long as its columns and constraints match.
     *
     * @param count the number of partitions, 1 to {@value TreeMapping#MAX_PARTITIONS}
     * @throws IllegalArgumentException if {@code count} is out of that range
     */
    public Builder partitions(int count) {
      if (count < 1 || count > MAX_PARTITIONS) {
        throw new IllegalArgumentException("partitions must be 1 to " + MAX_PARTITIONS + " but was " + count);
      }
      this.partitions = count;
      return this;
    }

    /**
     * Declares which keys this mapping's store holds when other stores, each with a replication
     * of its own, write the same declared table ("fan-in": an application sharded over processes,
     * each with its own RocksDB). The mapping then owns only the table's rows whose raw key lies in
     * {@code [from, until)}, within its prefix: the probe of a first copy, the clearing before a
     * re-copy, deletes and range deletes from the log, and {@link Verification} (repair included)
     * look at those rows only, so the other stores' rows are neither deleted nor reported as
     * extra. A put of a key outside the range is a data error (see {@link OnDataError}): the store
     * holds a key that it does not own. Give each store's mapping a range of its own: a replication
     * whose mapping's range overlaps one of another replication's mappings of the same table (or
     * of a mapping without a range, which owns every row) fails to start with a {@link
     * ReplicationException.Kind#CONFIGURATION} error that names both. The range is part of what makes a
     * mapping "changed": a new range copies the mapping again, replacing only the rows in it.
     * Declared tables only (a statement mapping's statements say themselves which rows they
     * touch). Without it (the default) the mapping owns every row of its table.
     *
     * <p>Both bounds are whole raw keys, prefix included, compared byte-wise unsigned as RocksDB
     * and Postgres's {@code bytea} order them.
     *
     * @param from the first key of the range (inclusive); must start with the mapping's {@link
     *     #prefix(byte[]) prefix} (checked by {@link #build()}); not {@code null}
     * @param until the end of the range (exclusive), after {@code from}; {@code null} for every key
     *     from {@code from} to the end of the prefix. A key past the prefix's keys is refused by
     *     {@link #build()}: use {@code null}
     * @throws NullPointerException if {@code from} is {@code null}
     * @throws IllegalArgumentException if {@code until} is not after {@code from}
     */
    public Builder keyRange(byte[] from, byte[] until) {
      Objects.requireNonNull(from, "keyRange from must not be null");
      if (until != null && Arrays.compareUnsigned(from, until) >= 0) {
        throw new IllegalArgumentException("keyRange until (" + HexFormat.of().formatHex(until)
            + ") must come after from (" + HexFormat.of().formatHex(from) + "): the range is [from, until)");
      }
      this.keyFrom = from.clone();
      this.keyUntil = until == null ? null : until.clone();
      return this;
    }

    private TableDefinition.Column column(String property, String name, ColumnDecoder decoder) {
      Objects.requireNonNull(name, property + " name must not be null");
      Objects.requireNonNull(decoder, property + " decoder must not be null");
      if (name.isBlank()) {
        throw new IllegalArgumentException(property + " name must not be blank");
      }
      if (!columnNames.add(name)) {
        throw new IllegalArgumentException(property + " '" + name + "' is declared twice");
      }
      return new TableDefinition.Column(name, decoder.decoder());
    }

    private static PreparedSql parse(String property, String sql) {
      try {
        return PreparedSql.parse(sql);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(property + " sql: " + e.getMessage(), e);
      }
    }

    private static String checkSql(String property, String sql) {
      Objects.requireNonNull(sql, property + " sql must not be null");
      if (sql.isBlank()) {
        throw new IllegalArgumentException(property + " sql must not be blank");
      }
      return sql;
    }

    /** Checks that the key range lies within the prefix's keys. */
    private void checkKeyRange() {
      if (keyFrom == null) {
        return;
      }
      HexFormat hex = HexFormat.of();
      if (!io.kv2pg.internal.rocksdb.SnapshotScan.startsWith(keyFrom, prefix)) {
        throw new IllegalStateException("keyRange from (" + hex.formatHex(keyFrom) + ") must start with the"
            + " mapping's prefix (" + hex.formatHex(prefix) + "): both bounds are whole keys, prefix included");
      }
      byte[] prefixEnd = io.kv2pg.internal.change.KeyRanges.prefixEnd(prefix);
      if (keyUntil != null && prefixEnd != null && Arrays.compareUnsigned(keyUntil, prefixEnd) > 0) {
        throw new IllegalStateException("keyRange until (" + hex.formatHex(keyUntil) + ") lies past the keys"
            + " of the mapping's prefix (" + hex.formatHex(prefix) + "), which end before "
            + hex.formatHex(prefixEnd) + "; pass null to reach the end of the prefix");
      }
    }

    /**
     * Returns the mapping.
     *
     * @throws IllegalStateException if the insert or the remove statement is missing, or the column
     *     family handle is closed; if partitions or a {@link #keyRange} are given without a table, a
     *     key range does not lie within the prefix, or the partitions' names would be longer than
     *     PostgreSQL's 63 bytes
     */
    public TreeMapping build() {
      if (table != null) {
        if (insert != null || remove != null || removeRange != null || clear != null) {
          throw new IllegalStateException("a declared table takes no insert, remove, removeRange or"
              + " clear statements: kv2pg generates them; use either table(...) or the statements");
        }
        if (columnNames.contains(rawKeyColumn)) {
          throw new IllegalStateException("rawKeyColumn '" + rawKeyColumn + "' is also declared as a"
              + " key or value column; name it differently with rawKeyColumn(...)");
        }
        // Postgres truncates longer names, and "if not exists" would then skip the later partitions.
        String lastPartition = table + "_p" + (partitions - 1);
        if (partitions > 0 && lastPartition.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 63) {
          throw new IllegalStateException("partitions: the partition name '" + lastPartition + "' is longer"
              + " than PostgreSQL's 63 bytes; give the table a shorter name");
        }
        checkKeyRange();
      } else if (partitions > 0) {
        throw new IllegalStateException("partitions need table(name)");
      } else {
        if (keyFrom != null) {
          throw new IllegalStateException("keyRange needs table(name): a statement mapping's statements"
              + " decide themselves which rows they write and remove");
        }
        if (!keyColumns.isEmpty() || !valueColumns.isEmpty()) {
          throw new IllegalStateException("keyColumn and valueColumn need table(name)");
        }
        if (insert == null) {
          throw new IllegalStateException("insert is required: call insert(sql, parameters), or table(name)");
        }
        if (remove == null) {
          throw new IllegalStateException("remove is required: call remove(sql, parameters)");
        }
      }
      if (columnFamily == null) {
        return new TreeMapping(this, columnFamilyName);
      }
      if (!columnFamily.isOwningHandle()) {
        throw new IllegalStateException("columnFamily handle is closed");
      }
      String treeName;
      try {
        treeName = new String(columnFamily.getName(), java.nio.charset.StandardCharsets.UTF_8);
      } catch (RocksDBException e) {
        throw new IllegalStateException("cannot read the column family's name: " + e.getMessage(), e);
      }
      return new TreeMapping(this, treeName);
    }
  }

}
