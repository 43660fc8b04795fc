package io.kv2pg.internal.table;

import io.kv2pg.InsertParameters;
import io.kv2pg.RemoveParameters;
import io.kv2pg.RemoveRangeParameters;
import java.util.List;
import org.rocksdb.ColumnFamilyHandle;

/** A mapping that writes with the user's statements. Immutable; the parameter functions are the user's. */
public final class StatementMappingPlan extends MappingPlan {
  /** Immutable, so one serves every caller. */
  private final StatementTableWriter writer;
  private final String target;

  /**
   * @param removeRange the range delete, or {@code null} when the mapping has none
   * @param removeRangeParameters its parameters, {@code null} exactly when {@code removeRange} is
   * @param clear the statement that removes the mapping's rows before a re-copy, or {@code null}
   */
  public StatementMappingPlan(String name, String treeName, ColumnFamilyHandle columnFamily, byte[] prefix,
      List<String> createCommands, PreparedSql insert, InsertParameters insertParameters, PreparedSql remove,
      RemoveParameters removeParameters, PreparedSql removeRange, RemoveRangeParameters removeRangeParameters,
      String clear) {
    super(name, treeName, columnFamily, prefix);
    this.writer = new StatementTableWriter(name, treeName, createCommands, insert, insertParameters, remove,
        removeParameters, removeRange, removeRangeParameters, clear);
    this.target = insert.original() + "\n" + remove.original();
  }

  @Override
  public TableWriter writer(int index) {
    return writer;
  }

  @Override
  String target() {
    return target;
  }
}
