package io.kv2pg.internal.engine;

import io.kv2pg.ReplicationException;
import io.kv2pg.internal.change.Change;
import io.kv2pg.internal.change.ChangeBatch;
import io.kv2pg.internal.change.ChangeGroup;
import io.kv2pg.internal.postgres.CheckpointStore;
import io.kv2pg.internal.postgres.PostgresSession;
import io.kv2pg.internal.postgres.SqlStates;
import io.kv2pg.internal.rocksdb.WalSource;
import io.kv2pg.internal.table.MappingPlan;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.rocksdb.RocksDBException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The writer's loop: takes write batches from the queue, groups consecutive ones into one
 * transaction (cut on batch boundaries, so every commit is a state the store had), and applies each
 * group with its checkpoint. A group that fails on its data is applied batch by batch to commit
 * what precedes the bad change; a group too large for a limit of Postgres is halved.
 *
 * <p>Concurrency: writer thread only.
 */
final class ApplyLoop {
  private static final Logger LOG = LoggerFactory.getLogger(ApplyLoop.class);
  private static final long TAKE_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
  private static final long GROUP_WEIGHT = 16L << 20;
  private static final int GROUP_CHANGES = 50_000;
  /** After a limit error shrank the groups, how many groups pass before they may grow again. */
  private static final int REGROW_AFTER_GROUPS = 100;

  private final String name;
  private final WalSource source;
  private final List<MappingPlan> mappings;
  private final ChangeQueue queue;
  private final PostgresSession session;
  private final CheckpointStore checkpoints;
  private final ChangeApplier applier;
  private final DeadLetterBook deadLetters;
  private final Progress progress;
  private final List<String> mappingNames;
  private final StopSignal stop;
  /** How many changes a group may take; smaller for a while after a limit error. */
  private int groupChanges = GROUP_CHANGES;
  private long groupsSinceShrink;
  /** A batch taken from the queue that belongs after the current apply limit. */
  private ChangeBatch pending;

  ApplyLoop(String name, WalSource source, List<MappingPlan> mappings, ChangeQueue queue, PostgresSession session,
      CheckpointStore checkpoints, ChangeApplier applier, DeadLetterBook deadLetters, Progress progress,
      StopSignal stop) {
    this.name = name;
    this.source = source;
    this.mappings = mappings;
    this.queue = queue;
    this.session = session;
    this.checkpoints = checkpoints;
    this.applier = applier;
    this.deadLetters = deadLetters;
    this.progress = progress;
    this.mappingNames = mappings.stream().map(MappingPlan::name).toList();
    this.stop = stop;
  }

  /**
   * Applies change groups until the stream ends, until {@code limit} (a write batch boundary) is
   * applied, or until a stop's target is: a batch that starts after the stop's target is not
   * applied. A batch taken beyond the limit waits in {@link #pending} for the next call.
   */
  void run(long limit) throws SQLException, PostgresSession.Abandoned, InterruptedException {
    while (progress.appliedSequence() < limit && !stop.drained(progress.appliedSequence() + 1)) {
      ChangeBatch first = pending != null ? pending : queue.take(TAKE_NANOS);
      pending = null;
      if (first == null) {
        if (queue.isEnded()) {
          return;
        }
        continue;
      }
      if (first.lastSequence() > limit || stop.drained(first.firstSequence())) {
        pending = first;
        return;
      }
      ChangeGroup group = new ChangeGroup();
      group.add(first);
      ReplicationException readerFailure = null;
      try {
        while (group.weight() < GROUP_WEIGHT && group.changeCount() < groupChanges) {
          ChangeBatch next = queue.poll();
          if (next == null) {
            break;
          }
          if (next.lastSequence() > limit || stop.drained(next.firstSequence())) {
            pending = next;
            break;
          }
          group.add(next);
        }
      } catch (ReplicationException e) {
        readerFailure = e;
      }
      apply(group);
      if (groupChanges < GROUP_CHANGES && ++groupsSinceShrink % REGROW_AFTER_GROUPS == 0) {
        groupChanges = (int) Math.min(GROUP_CHANGES, groupChanges * 2L);
      }
      if (readerFailure != null) {
        throw readerFailure;
      }
    }
  }

  private void apply(ChangeGroup group) throws SQLException, PostgresSession.Abandoned {
    try {
      applyWhole(group);
    } catch (PostgresSession.LimitReached e) {
      if (group.batches().size() == 1) {
        throw new ReplicationException(ReplicationException.Kind.POSTGRES, limitMessage(group, e), e, null, null,
            null, group.lastSequence());
      }
      groupChanges = Math.max(1, group.changeCount() / 2);
      groupsSinceShrink = 0;
      LOG.warn("kv2pg[{}]: a transaction of {} write batches (sequences {} to {}) hit a limit of Postgres"
          + " ({}); applying it in two halves, and at most {} changes per transaction for a while",
          name, group.batches().size(), group.batches().get(0).firstSequence(), group.lastSequence(),
          SqlStates.describe(e.last()), groupChanges);
      for (ChangeGroup half : group.halves()) {
        apply(half);
      }
    }
  }

  private String limitMessage(ChangeGroup group, PostgresSession.LimitReached e) {
    ChangeBatch batch = group.batches().get(0);
    return "Replication '" + name + "' stopped: the write batch of sequences " + batch.firstSequence() + " to "
        + batch.lastSequence() + " (" + batch.changes().size() + " changes, applied alone) failed again and"
        + " again with " + e.getMessage() + ": " + SqlStates.advice(e.last()) + ". Then start the"
        + " replication again: it resumes after sequence " + progress.appliedSequence() + ", and nothing"
        + " after it was applied.";
  }

  private void applyWhole(ChangeGroup group) throws SQLException, PostgresSession.Abandoned {
    try {
      session.run((connection, retry) -> {
        if (retry && committedAlready(connection) >= group.lastSequence()) {
          progress.reached(group.lastSequence()); // The uncertain commit did happen.
          return null;
        }
        long started = System.nanoTime();
        AppliedRows rows = applier.apply(connection, group);
        long nanos = System.nanoTime() - started;
        progress.committed(group.lastSequence(), rows, nanos);
        if (LOG.isDebugEnabled()) {
          LOG.debug("kv2pg[{}]: committed sequences {} to {} ({} write batches) in {} µs: {}", name,
              group.batches().get(0).firstSequence(), group.lastSequence(), group.batches().size(), nanos / 1000,
              rows.describe(mappingNames));
        }
        return null;
      });
    } catch (PostgresSession.LimitReached e) {
      throw e;
    } catch (SQLException e) {
      isolate(group);
    } catch (ReplicationException e) {
      if (e.kind() != ReplicationException.Kind.DATA) {
        throw e;
      }
      isolate(group);
    }
  }

  /**
   * Applies a group that failed batch by batch, to commit what precedes the bad change. A bad
   * change whose key the store has rewritten or deleted since is passed over: the later write
   * comes in a later batch, and coalescing would have skipped this version had the two met in one
   * group.
   */
  private void isolate(ChangeGroup group) throws SQLException, PostgresSession.Abandoned {
    try {
      session.run((connection, retry) -> {
        applier.applyIsolating(connection, group, committedAlready(connection), progress);
        return null;
      });
    } catch (ReplicationException e) {
      Change bad = superseded(group, e);
      if (bad == null) {
        Change named = deadLetters.enabled() ? named(group, e) : null;
        if (named == null) {
          throw e;
        }
        // Written with the rest of its batch, in the first transaction of what follows.
        deadLetters.setAside(named, e);
        apply(group.after(progress.appliedSequence(), named));
        return;
      }
      LOG.warn("kv2pg[{}]: passing over key {} of mapping '{}' at sequence {}, which failed ({}), because"
          + " the store has rewritten or deleted that key since; its later write is applied in its turn",
          name, HexFormat.of().formatHex(bad.key()), bad.route().mappingName(), bad.sequence(),
          e.getMessage());
      ChangeGroup rest = group.after(progress.appliedSequence(), bad);
      if (!rest.isEmpty()) {
        apply(rest);
      }
    }
  }

  /** Returns the group's change that a data error names, or {@code null}. */
  private static Change named(ChangeGroup group, ReplicationException error) {
    if (error.kind() != ReplicationException.Kind.DATA || error.key().isEmpty() || error.sequence().isEmpty()) {
      return null;
    }
    return group.find(error.key().get(), error.sequence().getAsLong());
  }

  /** Returns the group's change that the error names if the store no longer holds its value. */
  private Change superseded(ChangeGroup group, ReplicationException error) {
    Change bad = named(group, error);
    if (bad == null || bad.isRangeDelete() || bad.isDelete()) {
      return null;
    }
    try {
      byte[] current = source.database().get(mappings.get(bad.route().position()).columnFamily(), bad.key());
      return Arrays.equals(current, bad.value()) ? null : bad;
    } catch (RocksDBException e) {
      error.addSuppressed(e);
      return null;
    }
  }

  private long committedAlready(Connection connection) throws SQLException {
    long applied = checkpoints.appliedSequence(connection).orElse(-1);
    connection.commit();
    return applied;
  }
}
