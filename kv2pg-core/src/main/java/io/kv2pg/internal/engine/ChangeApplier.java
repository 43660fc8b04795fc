package io.kv2pg.internal.engine;

import io.kv2pg.ReplicationException;
import io.kv2pg.internal.change.Change;
import io.kv2pg.internal.change.ChangeBatch;
import io.kv2pg.internal.change.ChangeGroup;
import io.kv2pg.internal.change.Route;
import io.kv2pg.internal.postgres.CheckpointStore;
import io.kv2pg.internal.postgres.SqlStates;
import io.kv2pg.internal.table.TableWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Applies change groups to Postgres, one transaction per group, with the checkpoint in the same
 * transaction. Deletes go first, in reverse mapping order, then upserts in mapping order, so that
 * mappings declared parent before child also satisfy foreign keys that are not deferrable.
 *
 * <p>When a group fails because of its data, {@link #applyIsolating} finds the failing change:
 * it commits the group's batches one at a time up to the failing one, then replays that batch
 * row by row under savepoints to name the key. Not thread-safe; the connection is the caller's.
 */
final class ChangeApplier {
  private final CheckpointStore checkpoints;
  private final Map<Route, TableWriter> writers;
  private final DeadLetterBook deadLetters;

  /** @param writers each route's writer; every change applied must come by one of these routes */
  ChangeApplier(CheckpointStore checkpoints, Map<Route, TableWriter> writers, DeadLetterBook deadLetters) {
    this.checkpoints = checkpoints;
    this.writers = Map.copyOf(writers);
    this.deadLetters = deadLetters;
  }

  /**
   * Applies the group and commits. On any exception the transaction is rolled back.
   *
   * @return the rows written after coalescing
   * @throws SQLException from Postgres (transient or caused by the data)
   * @throws ReplicationException if a parameter function failed
   */
  AppliedRows apply(Connection connection, ChangeGroup group) throws SQLException {
    try {
      AppliedRows rows = write(connection, group);
      deadLetters.writeIn(connection, group);
      checkpoints.saveAppliedSequence(connection, group.lastSequence());
      connection.commit();
      deadLetters.committed();
      return rows;
    } catch (SQLException | RuntimeException e) {
      deadLetters.rolledBack();
      rollbackQuietly(connection, e);
      throw e;
    }
  }

  private AppliedRows write(Connection connection, ChangeGroup group) throws SQLException {
    AppliedRows rows = new AppliedRows(writers.size());
    for (Step step : steps(group)) {
      if (step.deletes()) {
        List<Change> ranges = step.changes().stream().filter(Change::isRangeDelete).toList();
        step.writer().deleteRange(connection, ranges);
        step.writer().delete(connection, step.changes().subList(ranges.size(), step.changes().size()));
      } else {
        step.writer().upsert(connection, step.changes());
      }
      rows.add(step.route().position(), step.deletes(), step.changes().size());
    }
    return rows;
  }

  /** One statement batch: a mapping's deletes or its upserts. */
  private record Step(Route route, TableWriter writer, boolean deletes, List<Change> changes) {}

  private List<Step> steps(ChangeGroup group) {
    List<Route> routes = new ArrayList<>(group.routes());
    List<Step> steps = new ArrayList<>(routes.size() * 2);
    for (int i = routes.size() - 1; i >= 0; i--) {
      Route route = routes.get(i);
      List<Change> deletes = new ArrayList<>(group.ranges(route));
      deletes.addAll(select(group.latest(route), true));
      steps.add(new Step(route, writers.get(route), true, deletes));
    }
    for (Route route : routes) {
      steps.add(new Step(route, writers.get(route), false, select(group.latest(route), false)));
    }
    return steps;
  }

  private static List<Change> select(Collection<Change> changes, boolean deletes) {
    List<Change> selected = new ArrayList<>(changes.size());
    for (Change change : changes) {
      if (change.isDelete() == deletes) {
        selected.add(change);
      }
    }
    return selected;
  }

  /**
   * Applies the group's batches one transaction each, skipping those at or before {@code
   * appliedSequence}, and names the change that fails.
   *
   * @throws SQLException if a transient error interrupts the work (the caller retries)
   * @throws ReplicationException naming the failing mapping, key and sequence
   */
  void applyIsolating(Connection connection, ChangeGroup group, long appliedSequence, Progress progress)
      throws SQLException {
    for (ChangeBatch batch : group.batches()) {
      if (batch.lastSequence() <= appliedSequence) {
        progress.reached(batch.lastSequence()); // Committed by an earlier, uncertain attempt.
        continue;
      }
      ChangeGroup single = new ChangeGroup();
      single.add(batch);
      try {
        long started = System.nanoTime();
        AppliedRows rows = apply(connection, single);
        progress.committed(batch.lastSequence(), rows, System.nanoTime() - started);
      } catch (SQLException e) {
        if (SqlStates.isTransient(e)) {
          throw e;
        }
        throw locate(connection, single, batch, e);
      }
    }
  }

  /** Replays a failed batch change by change, to name the change that Postgres refuses. */
  private ReplicationException locate(Connection connection, ChangeGroup single, ChangeBatch batch,
      SQLException error) throws SQLException {
    try {
      for (Step step : steps(single)) {
        ReplicationException refused =
            step.writer().findRefused(connection, step.changes(), step.deletes());
        if (refused != null) {
          return refused;
        }
      }
    } finally {
      rollbackQuietly(connection, error);
    }
    return new ReplicationException(ReplicationException.Kind.DATA,
        "Postgres refused the write batch at sequences " + batch.firstSequence() + " to "
            + batch.lastSequence() + " when it was committed: " + SqlStates.describe(error)
            + ". A deferred constraint (such as a foreign key) does not hold for the state the"
            + " store had after this batch. Nothing from this batch on was committed; fix the"
            + " constraint or the data and start the replication again.",
        error, null, null, null, batch.firstSequence());
  }

  private static void rollbackQuietly(Connection connection, Exception cause) {
    try {
      connection.rollback();
    } catch (SQLException e) {
      cause.addSuppressed(e);
    }
  }
}
