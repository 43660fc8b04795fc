package io.kv2pg.internal.table;

import io.kv2pg.ReplicationException;
import io.kv2pg.internal.change.Change;
import io.kv2pg.internal.postgres.SqlStates;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Collection;
import java.util.List;

/**
 * Writes one tree mapping's changes into Postgres, inside the caller's transaction. The
 * connection is the caller's: a writer never commits or rolls back. Implementations are
 * thread-safe as long as each call gets its own connection.
 */
public interface TableWriter {

  /** Returns the mapping's name. */
  String mappingName();

  /** Returns the name of the tree the mapping reads. */
  String treeName();

  /**
   * Creates or checks what the mapping needs in Postgres before anything is written.
   *
   * @throws ReplicationException if the existing table does not match the mapping
   */
  void prepare(Connection connection) throws SQLException;

  /**
   * Returns the table this writer alone knows it writes ({@code "schema"."table"}, quoted), for a
   * declared table; {@code null} for statement mappings, whose tables kv2pg does not know.
   */
  default String knownTable() {
    return null;
  }

  /**
   * Returns whether the mapping's table holds any row the mapping owns (every row, or with a key
   * range the rows in it): asked of a declared table that kv2pg has no record of having copied. Statement mappings answer {@code false}: kv2pg does not know their
   * tables, and assumes a mapping it never copied writes into an empty one.
   */
  default boolean holdsRows(Connection connection) throws SQLException {
    return false;
  }

  /** Returns whether {@link #clear} can remove the mapping's rows before a re-copy. */
  default boolean canClear() {
    return true;
  }

  /**
   * Returns whether {@link #clear} removes every row of {@link #knownTable()}, so that every other
   * mapping writing that table must be copied again with it; {@code false} for a declared table
   * with a key range, whose clear removes only the rows in its range.
   */
  default boolean clearsWholeTable() {
    return true;
  }

  /**
   * Removes every row the mapping owns (declared: the whole table, or the rows in its key range;
   * statements: the user's clear statement), inside the caller's transaction, before a re-copy.
   *
   * @throws IllegalStateException if {@link #canClear()} is {@code false}
   */
  void clear(Connection connection) throws SQLException;

  /** Writes each change's key and value (upsert); the keys are distinct. */
  void upsert(Connection connection, Collection<Change> changes) throws SQLException;

  /** Removes each change's key; the keys are distinct. */
  void delete(Connection connection, Collection<Change> changes) throws SQLException;

  /** Removes every key in each change's range (see {@link Change#isRangeDelete()}). */
  void deleteRange(Connection connection, Collection<Change> ranges) throws SQLException;

  /**
   * Writes a chunk of the initial copy, whose keys come after every key the mapping already
   * wrote in this copy.
   *
   * @param resumeAfter the last key already copied, or {@code null}
   * @param nothingAhead whether the previous chunk of this copy returned {@code true}, so the
   *     table is known to hold no row of the mapping after {@code resumeAfter}
   * @return whether the table held no row of the mapping after the chunk's keys, which the next
   *     chunk may rely on
   */
  default boolean copy(Connection connection, List<Change> chunk, byte[] resumeAfter,
      boolean nothingAhead) throws SQLException {
    upsert(connection, chunk);
    return false;
  }

  /**
   * Returns an error about one change, naming the mapping, tree, key, sequence number and reason.
   */
  ReplicationException failure(Change change, String reason, Throwable cause);

  /**
   * Replays changes one at a time under savepoints, with every constraint checked at once, to
   * name the one Postgres refuses. Leaves the transaction open (the caller rolls it back).
   *
   * @return the error naming the refused change, or {@code null} if every change went through
   * @throws SQLException if a transient error interrupts the replay
   */
  default ReplicationException findRefused(Connection connection, Collection<Change> changes,
      boolean deletes) throws SQLException {
    // A deferred constraint (a foreign key DEFERRABLE INITIALLY DEFERRED) is checked per row too,
    // so that the change that breaks it is named: in the replication's order (parents first).
    try (java.sql.Statement statement = connection.createStatement()) {
      statement.execute("set constraints all immediate");
    }
    for (Change change : changes) {
      java.sql.Savepoint savepoint = connection.setSavepoint();
      try {
        if (change.isRangeDelete()) {
          deleteRange(connection, List.of(change));
        } else if (deletes) {
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

  /** Formats the standard message for a failure on one change. */
  static ReplicationException failure(String mappingName, String treeName, Change change,
      String reason, Throwable cause) {
    return new ReplicationException(ReplicationException.Kind.DATA,
        "Mapping '" + mappingName + "' (tree '" + treeName + "') failed on key "
            + java.util.HexFormat.of().formatHex(change.key()) + " at sequence " + change.sequence()
            + ": " + reason + ". Nothing from this write batch on was committed. Either fix the mapping"
            + " (for example a decoder or statement that accepts this value), or fix the data: rewrite"
            + " or delete this key in the store, and the version that failed is passed over. Then start"
            + " the replication again: it resumes after the last commit. To set such changes aside and"
            + " go on instead, use onDataError(OnDataError.DEAD_LETTER) (on-data-error: dead-letter).",
        cause, mappingName, treeName, change.key(), change.sequence());
  }
}
