package io.kv2pg.sink;

import io.kv2pg.InsertParameters;
import io.kv2pg.Params;
import io.kv2pg.RemoveParameters;
import io.kv2pg.ReplicationException;
import io.kv2pg.change.Change;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;

/**
 * Applies one tree mapping's changes with the user's own statements, as JDBC batches (one round
 * trip per batch, never per row). Immutable and thread-safe; the connection is the caller's.
 */
public final class StatementTableWriter {
  private final String mappingName;
  private final String treeName;
  private final PreparedSql insert;
  private final InsertParameters insertParameters;
  private final PreparedSql remove;
  private final RemoveParameters removeParameters;

  public StatementTableWriter(String mappingName, String treeName, PreparedSql insert,
      InsertParameters insertParameters, PreparedSql remove, RemoveParameters removeParameters) {
    this.mappingName = mappingName;
    this.treeName = treeName;
    this.insert = insert;
    this.insertParameters = insertParameters;
    this.remove = remove;
    this.removeParameters = removeParameters;
  }

  /** Returns the mapping's name. */
  public String mappingName() {
    return mappingName;
  }

  /** Returns the name of the tree the mapping reads. */
  public String treeName() {
    return treeName;
  }

  /**
   * Runs the insert statement for every change, in one batch.
   *
   * @throws ReplicationException if the parameter function fails for a change, naming it
   */
  public void upsert(Connection connection, Collection<Change> changes) throws SQLException {
    if (changes.isEmpty()) {
      return;
    }
    try (PreparedStatement statement = connection.prepareStatement(insert.jdbcSql())) {
      for (Change change : changes) {
        bind(statement, insert, insertParameters(change), change);
        statement.addBatch();
      }
      statement.executeBatch();
    }
  }

  /**
   * Runs the remove statement for every change, in one batch.
   *
   * @throws ReplicationException if the parameter function fails for a change, naming it
   */
  public void delete(Connection connection, Collection<Change> changes) throws SQLException {
    if (changes.isEmpty()) {
      return;
    }
    try (PreparedStatement statement = connection.prepareStatement(remove.jdbcSql())) {
      for (Change change : changes) {
        bind(statement, remove, removeParameters(change), change);
        statement.addBatch();
      }
      statement.executeBatch();
    }
  }

  /**
   * Replays changes one at a time under savepoints, to name the one Postgres refuses. Leaves the
   * transaction open (the caller rolls it back).
   *
   * @return the error naming the refused change, or {@code null} if every change went through
   * @throws SQLException if a transient error interrupts the replay
   */
  public ReplicationException findRefused(Connection connection, Collection<Change> changes,
      boolean deletes) throws SQLException {
    for (Change change : changes) {
      Savepoint savepoint = connection.setSavepoint();
      try {
        if (deletes) {
          delete(connection, List.of(change));
        } else {
          upsert(connection, List.of(change));
        }
        connection.releaseSavepoint(savepoint);
      } catch (SQLException e) {
        if (SqlStates.isTransient(e)) {
          throw e;
        }
        return failure(change, "Postgres refused the row: " + SqlStates.describe(e), e);
      }
    }
    return null;
  }

  private Params insertParameters(Change change) {
    try {
      return requireParams(insertParameters.apply(change.key(), change.value()), "insert", change);
    } catch (ReplicationException e) {
      throw e;
    } catch (RuntimeException e) {
      throw failure(change, "the insert parameters function threw " + e, e);
    }
  }

  private Params removeParameters(Change change) {
    try {
      return requireParams(removeParameters.apply(change.key()), "remove", change);
    } catch (ReplicationException e) {
      throw e;
    } catch (RuntimeException e) {
      throw failure(change, "the remove parameters function threw " + e, e);
    }
  }

  private Params requireParams(Params params, String statement, Change change) {
    if (params == null) {
      throw failure(change, "the " + statement + " parameters function returned null", null);
    }
    return params;
  }

  private void bind(PreparedStatement statement, PreparedSql sql, Params params, Change change)
      throws SQLException {
    try {
      sql.bind(statement, params);
    } catch (IllegalArgumentException e) {
      throw failure(change, e.getMessage(), e);
    }
  }

  /** Returns an error about one change, naming the mapping, tree, key and sequence number. */
  public ReplicationException failure(Change change, String reason, Throwable cause) {
    return new ReplicationException(
        "Mapping '" + mappingName + "' (tree '" + treeName + "') failed on key "
            + HexFormat.of().formatHex(change.key()) + " at sequence " + change.sequence() + ": "
            + reason + ". Nothing from this write batch on was committed; fix the mapping or the"
            + " data and start the replication again to resume after the last commit.",
        cause, mappingName, treeName, change.key(), change.sequence());
  }
}
