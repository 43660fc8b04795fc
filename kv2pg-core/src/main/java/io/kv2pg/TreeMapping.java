package io.kv2pg;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import io.kv2pg.sink.PreparedSql;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDBException;

/**
 * How the entries of one tree (a RocksDB column family), optionally restricted to a key prefix,
 * become Postgres rows: an upsert for every put, a delete for every removed key.
 *
 * <p>Several mappings may read the same tree, with different prefixes or into different tables;
 * each sees every key that starts with its prefix. Immutable and thread-safe; build with {@link
 * #builder(ColumnFamilyHandle)}.
 */
public final class TreeMapping {
  private final ColumnFamilyHandle columnFamily;
  private final String treeName;
  private final String name;
  private final byte[] prefix;
  private final List<String> createCommands;
  private final PreparedSql insert;
  private final InsertParameters insertParameters;
  private final PreparedSql remove;
  private final RemoveParameters removeParameters;

  private TreeMapping(Builder builder, String treeName) {
    this.columnFamily = builder.columnFamily;
    this.treeName = treeName;
    this.prefix = builder.prefix.clone();
    this.name =
        builder.name != null
            ? builder.name
            : prefix.length == 0 ? treeName : treeName + "/" + HexFormat.of().formatHex(prefix);
    this.createCommands = List.copyOf(builder.createCommands);
    this.insert = builder.insert;
    this.insertParameters = builder.insertParameters;
    this.remove = builder.remove;
    this.removeParameters = builder.removeParameters;
  }

  /**
   * Starts describing a mapping of the given column family.
   *
   * @param columnFamily an open handle of the store that the replication reads
   * @throws NullPointerException if {@code columnFamily} is {@code null}
   */
  public static Builder builder(ColumnFamilyHandle columnFamily) {
    return new Builder(Objects.requireNonNull(columnFamily, "columnFamily must not be null"));
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

  ColumnFamilyHandle columnFamily() {
    return columnFamily;
  }

  List<String> createCommands() {
    return createCommands;
  }

  PreparedSql insert() {
    return insert;
  }

  InsertParameters insertParameters() {
    return insertParameters;
  }

  PreparedSql remove() {
    return remove;
  }

  RemoveParameters removeParameters() {
    return removeParameters;
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
    private String name;
    private byte[] prefix = new byte[0];
    private final List<String> createCommands = new ArrayList<>();
    private PreparedSql insert;
    private InsertParameters insertParameters;
    private PreparedSql remove;
    private RemoveParameters removeParameters;

    private Builder(ColumnFamilyHandle columnFamily) {
      this.columnFamily = columnFamily;
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

    /**
     * Returns the mapping.
     *
     * @throws IllegalStateException if the insert or the remove statement is missing, or the column
     *     family handle is closed
     */
    public TreeMapping build() {
      if (insert == null) {
        throw new IllegalStateException("insert is required: call insert(sql, parameters)");
      }
      if (remove == null) {
        throw new IllegalStateException("remove is required: call remove(sql, parameters)");
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
