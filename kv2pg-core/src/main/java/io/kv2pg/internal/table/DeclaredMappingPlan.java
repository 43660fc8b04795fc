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

  @Override
  String target() {
    return definition.createSql();
  }
}
