package io.kv2pg.internal.table;

import io.kv2pg.InsertParameters;
import io.kv2pg.Params;
import io.kv2pg.RemoveParameters;
import io.kv2pg.RemoveRangeParameters;
import io.kv2pg.ReplicationException;
import io.kv2pg.internal.change.Change;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Collection;
import java.util.List;
import java.util.function.Function;

/**
 * Applies one tree mapping's changes with the user's own statements, as JDBC batches (one round
 * trip per batch, never per row). Immutable and thread-safe; the connection is the caller's.
 */
public final class StatementTableWriter implements TableWriter {
  private final String mappingName;
  private final String treeName;
  private final List<String> createCommands;
  private final PreparedSql insert;
  private final InsertParameters insertParameters;
  private final PreparedSql remove;
  private final RemoveParameters removeParameters;
  private final PreparedSql removeRange;
  private final RemoveRangeParameters removeRangeParameters;
  /** The user's statement that removes the mapping's rows, or {@code null}. */
  private final String clear;

  /**
   * Creates a writer.
   *
   * @param removeRange the range remove statement, or {@code null} when the mapping has none
   * @param clear the statement that removes every row of the mapping, or {@code null}
   */
  public StatementTableWriter(String mappingName, String treeName, List<String> createCommands,
      PreparedSql insert, InsertParameters insertParameters, PreparedSql remove,
      RemoveParameters removeParameters, PreparedSql removeRange,
      RemoveRangeParameters removeRangeParameters, String clear) {
    this.clear = clear;
    this.mappingName = mappingName;
    this.treeName = treeName;
    this.createCommands = List.copyOf(createCommands);
    this.insert = insert;
    this.insertParameters = insertParameters;
    this.remove = remove;
    this.removeParameters = removeParameters;
    this.removeRange = removeRange;
    this.removeRangeParameters = removeRangeParameters;
  }

  @Override
  public String mappingName() {
    return mappingName;
  }

  @Override
  public String treeName() {
    return treeName;
  }

  @Override
  public boolean canClear() {
    return clear != null;
  }

  @Override
  public void clear(Connection connection) throws SQLException {
    if (clear == null) {
      throw new IllegalStateException("mapping '" + mappingName + "' has no clear statement");
    }
    try (Statement statement = connection.createStatement()) {
      statement.execute(clear);
    }
  }

  /** Runs the mapping's create commands. */
  @Override
  public void prepare(Connection connection) throws SQLException {
    try (Statement statement = connection.createStatement()) {
      for (String commands : createCommands) {
        statement.execute(commands);
      }
    }
  }

  @Override
  public void upsert(Connection connection, Collection<Change> changes) throws SQLException {
    run(connection, insert, changes, change -> insertParameters.apply(change.key(), change.value()), "insert");
  }

  @Override
  public void delete(Connection connection, Collection<Change> changes) throws SQLException {
    run(connection, remove, changes, change -> removeParameters.apply(change.key()), "remove");
  }

  @Override
  public void deleteRange(Connection connection, Collection<Change> ranges) throws SQLException {
    if (ranges.isEmpty()) {
      return;
    }
    if (removeRange == null) {
      throw failure(ranges.iterator().next(), "the store removed a key range (deleteRange) but the"
          + " mapping has no removeRange statement; add TreeMapping.Builder.removeRange(sql, parameters)", null);
    }
    run(connection, removeRange, ranges,
        change -> removeRangeParameters.apply(change.key(), change.rangeEnd()), "removeRange");
  }

  private void run(Connection connection, PreparedSql sql, Collection<Change> changes,
      Function<Change, Params> parameters, String statementName) throws SQLException {
    if (changes.isEmpty()) {
      return;
    }
    try (PreparedStatement statement = connection.prepareStatement(sql.jdbcSql())) {
      for (Change change : changes) {
        Params params;
        try {
          params = parameters.apply(change);
        } catch (ReplicationException e) {
          throw e;
        } catch (RuntimeException e) {
          throw failure(change, "the " + statementName + " parameters function threw " + e, e);
        }
        if (params == null) {
          throw failure(change, "the " + statementName + " parameters function returned null", null);
        }
        try {
          sql.bind(statement, params);
        } catch (IllegalArgumentException e) {
          throw failure(change, e.getMessage(), e);
        }
        statement.addBatch();
      }
      statement.executeBatch();
    }
  }

  @Override
  public ReplicationException failure(Change change, String reason, Throwable cause) {
    return TableWriter.failure(mappingName, treeName, change, reason, cause);
  }
}
