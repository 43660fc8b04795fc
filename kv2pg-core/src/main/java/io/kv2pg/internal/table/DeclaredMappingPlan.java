package io.kv2pg.internal.table;

import java.util.List;
import org.rocksdb.ColumnFamilyHandle;

/** A mapping into a table whose columns kv2pg decodes from the key and value. Immutable. */
public final class DeclaredMappingPlan extends MappingPlan {
  private final TableDefinition definition;
  private final List<String> createCommands;

  public DeclaredMappingPlan(String name, String treeName, ColumnFamilyHandle columnFamily, byte[] prefix,
      TableDefinition definition, List<String> createCommands) {
    super(name, treeName, columnFamily, prefix);
    this.definition = definition;
    this.createCommands = List.copyOf(createCommands);
  }

  /** Returns the declared table. */
  public TableDefinition definition() {
    return definition;
  }

  @Override
  public DeclaredTableWriter writer(int index) {
    return new DeclaredTableWriter(name(), treeName(), definition, prefix(), index, createCommands);
  }

  /**
   * The table's DDL, its partitions and how each column is decoded: a changed decoder or number of
   * partitions changes the mapping.
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
    return target.toString();
  }
}
