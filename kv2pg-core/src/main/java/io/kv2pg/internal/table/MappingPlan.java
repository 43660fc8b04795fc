package io.kv2pg.internal.table;

import io.kv2pg.internal.change.Route;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.rocksdb.ColumnFamilyHandle;

/**
 * One tree mapping as the engine runs it: where it reads, and how its writer is made. The public
 * {@code TreeMapping} describes a mapping and keeps its plan; the engine sees only plans, so the
 * description builds nothing. Two kinds, each with only its own fields: {@link StatementMappingPlan}
 * and {@link DeclaredMappingPlan}. Immutable and thread-safe.
 */
public abstract sealed class MappingPlan permits StatementMappingPlan, DeclaredMappingPlan {
  private final String name;
  private final String treeName;
  private final ColumnFamilyHandle columnFamily;
  private final byte[] prefix;

  MappingPlan(String name, String treeName, ColumnFamilyHandle columnFamily, byte[] prefix) {
    this.name = name;
    this.treeName = treeName;
    this.columnFamily = columnFamily;
    this.prefix = prefix.clone();
  }

  /** Returns the mapping's name, which identifies its copy progress. */
  public String name() {
    return name;
  }

  /** Returns the name of the column family the mapping reads. */
  public String treeName() {
    return treeName;
  }

  /** Returns the column family the mapping reads. */
  public ColumnFamilyHandle columnFamily() {
    return columnFamily;
  }

  /** Returns a copy of the key prefix (empty for the whole tree). */
  public byte[] prefix() {
    return prefix.clone();
  }

  /** Creates the writer that applies this mapping's changes; {@code index} is its position. */
  public abstract TableWriter writer(int index);

  /** Returns what the mapping writes: its table declaration, or its statements. */
  abstract String target();

  /**
   * Returns what the mapping reads and writes, to notice a mapping that changed since it was
   * copied: its tree, prefix, and table declaration or statements.
   */
  public final String fingerprint() {
    return treeName + "\n" + HexFormat.of().formatHex(prefix) + "\n" + target();
  }

  /** Returns where each mapping reads, indexed by its position in {@code plans}. */
  public static List<Route> routes(List<MappingPlan> plans) {
    List<Route> routes = new ArrayList<>(plans.size());
    for (int i = 0; i < plans.size(); i++) {
      MappingPlan plan = plans.get(i);
      routes.add(new Route(i, plan.name, plan.columnFamily.getID(), plan.treeName, plan.prefix));
    }
    return routes;
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "[" + name + "]";
  }
}
