package io.kv2pg.internal.table;

import java.util.HexFormat;
import java.util.List;
import org.rocksdb.ColumnFamilyHandle;

/** A mapping into a table whose columns kv2pg decodes from the key and value. Immutable. */
public final class DeclaredMappingPlan extends MappingPlan {
  private final TableDefinition definition;
  private final List<String> createCommands;
  /** The first key of the mapping's key range, or {@code null} when it owns every row of its table. */
  private final byte[] keyFrom;
  /** The end of the key range (exclusive), or {@code null}: to the end of the prefix. */
  private final byte[] keyUntil;

  public DeclaredMappingPlan(String name, String treeName, ColumnFamilyHandle columnFamily, byte[] prefix,
      TableDefinition definition, List<String> createCommands) {
    this(name, treeName, columnFamily, prefix, definition, createCommands, null, null);
  }

  /**
   * @param keyFrom the first key this mapping's store holds among the stores writing the table
   *     (whole key, prefix included), or {@code null} for a mapping that owns every row of its table
   * @param keyUntil the end of that range, exclusive, or {@code null} for the end of the prefix
   */
  public DeclaredMappingPlan(String name, String treeName, ColumnFamilyHandle columnFamily, byte[] prefix,
      TableDefinition definition, List<String> createCommands, byte[] keyFrom, byte[] keyUntil) {
    super(name, treeName, columnFamily, prefix);
    this.definition = definition;
    this.createCommands = List.copyOf(createCommands);
    this.keyFrom = keyFrom == null ? null : keyFrom.clone();
    this.keyUntil = keyFrom == null || keyUntil == null ? null : keyUntil.clone();
  }

  /** Returns the declared table. */
  public TableDefinition definition() {
    return definition;
  }

  @Override
  public DeclaredTableWriter writer(int index) {
    return new DeclaredTableWriter(name(), treeName(), definition, prefix(), index, createCommands, keyFrom,
        keyUntil);
  }

  /**
   * The table's DDL, its partitions and how each column is decoded: a changed decoder or number of
   * partitions changes the mapping. So does a changed key range, which changes the rows the mapping
   * owns; a mapping without partitions or a key range keeps the fingerprint it had before either
   * existed.
   */
  @Override
  String target() {
    StringBuilder target = new StringBuilder(definition.createSql());
    if (definition.partitioned()) {
      target.append("\npartitions: ").append(definition.partitions());
    }
    for (TableDefinition.Column column : definition.keyColumns()) {
      target.append('\n').append(column.name()).append(": ").append(column.decoder().describe());
    }
    for (TableDefinition.Column column : definition.valueColumns()) {
      target.append('\n').append(column.name()).append(": ").append(column.decoder().describe());
    }
    if (keyFrom != null) {
      HexFormat hex = HexFormat.of();
      target.append("\nkeyRange: [").append(hex.formatHex(keyFrom)).append(", ")
          .append(keyUntil == null ? "end of prefix" : hex.formatHex(keyUntil)).append(')');
    }
    return target.toString();
  }
}
