package io.kv2pg.internal.table;

import io.kv2pg.InsertParameters;
import io.kv2pg.RemoveParameters;
import io.kv2pg.RemoveRangeParameters;
import java.util.List;
import org.rocksdb.ColumnFamilyHandle;

/** A mapping that writes with the user's statements. Immutable; the parameter functions are the user's. */
public final class StatementMappingPlan extends MappingPlan {
  private final List<String> createCommands;
  private final PreparedSql insert;
  private final InsertParameters insertParameters;
  private final PreparedSql remove;
  private final RemoveParameters removeParameters;
  private final PreparedSql removeRange;
  private final RemoveRangeParameters removeRangeParameters;

  /**
   * @param removeRange the range delete, or {@code null} when the mapping has none
   * @param removeRangeParameters its parameters, {@code null} exactly when {@code removeRange} is
   */
  public StatementMappingPlan(String name, String treeName, ColumnFamilyHandle columnFamily, byte[] prefix,
      List<String> createCommands, PreparedSql insert, InsertParameters insertParameters, PreparedSql remove,
      RemoveParameters removeParameters, PreparedSql removeRange, RemoveRangeParameters removeRangeParameters) {
    super(name, treeName, columnFamily, prefix);
    this.createCommands = List.copyOf(createCommands);
    this.insert = insert;
    this.insertParameters = insertParameters;
    this.remove = remove;
    this.removeParameters = removeParameters;
    this.removeRange = removeRange;
    this.removeRangeParameters = removeRangeParameters;
  }

  @Override
  public TableWriter writer(int index) {
    return new StatementTableWriter(name(), treeName(), createCommands, insert, insertParameters,
        remove, removeParameters, removeRange, removeRangeParameters);
  }

  @Override
  String target() {
    return insert.original() + "\n" + remove.original();
  }
}
