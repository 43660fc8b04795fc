package io.kv2pg;

import io.kv2pg.change.Change;
import io.kv2pg.change.ChangeBatch;
import io.kv2pg.change.ChangeGroup;
import io.kv2pg.change.ChangeQueue;
import io.kv2pg.change.ChangeRouter;
import io.kv2pg.change.CopiedRange;
import io.kv2pg.change.Route;
import io.kv2pg.sink.ChangeApplier;
import io.kv2pg.sink.CheckpointStore;
import io.kv2pg.sink.CheckpointStore.CopyProgress;
import io.kv2pg.sink.PostgresConnector;
import io.kv2pg.sink.PostgresSession;
import io.kv2pg.sink.SqlStates;
import io.kv2pg.sink.TableWriter;
import io.kv2pg.source.DroppedFamilyCheck;
import io.kv2pg.source.WalBatch;
import io.kv2pg.source.WalBatchDecoder;
import io.kv2pg.source.WalSource;
import io.kv2pg.source.WalTailer;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDBException;
import org.rocksdb.Snapshot;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A started replication: a writer thread that sets up Postgres, runs the initial copy and applies
 * change groups, and a reader thread that tails the write-ahead log into a bounded queue.
 */
final class ReplicationEngine implements RunningReplication {
  private static final Logger LOG = LoggerFactory.getLogger(ReplicationEngine.class);
  private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
  private static final long FAMILY_CHECK_NANOS = TimeUnit.SECONDS.toNanos(10);
  private static final long TAKE_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
  private static final long QUEUE_WEIGHT = 64L << 20;
  private static final long GROUP_WEIGHT = 16L << 20;
  private static final int GROUP_CHANGES = 50_000;
  /** After a limit error shrank the groups, how many groups pass before they may grow again. */
  private static final int REGROW_AFTER_GROUPS = 100;
  private static final long WATCH_INTERVAL_MILLIS = 1_000;
  private static final Duration DEFAULT_STOP_TIMEOUT = RunningReplication.DEFAULT_STOP_TIMEOUT;
  /** How long a stop waits after cancelling, and again after terminating, kv2pg's server process. */
  private static final Duration INTERRUPT_GRACE = Duration.ofSeconds(5);

  private final String name;
  private final WalSource source;
  private final List<TreeMapping> mappings;
  private final List<TableWriter> writers = new ArrayList<>();
  private final CheckpointStore checkpoints;
  private final ChangeApplier applier;
  private final PostgresSession session;
  private final ChangeQueue queue = new ChangeQueue(QUEUE_WEIGHT);
  private final Thread writerThread;
  private final Thread watchThread;
  private volatile Thread readerThread;
  /** The copy's snapshot while one is held; writer thread only. */
  private Snapshot snapshot;
  /** How many changes a group may take; smaller for a while after a limit error. Writer thread only. */
  private int groupChanges = GROUP_CHANGES;
  private long groupsSinceShrink;
  /** A batch taken from the queue that belongs after the current apply limit; writer thread only. */
  private ChangeBatch pending;

  private final Object progress = new Object();
  private volatile ReplicationState state = ReplicationState.STARTING;
  private volatile long appliedSequence;
  private final AtomicLong rowsApplied = new AtomicLong();
  private volatile Instant lastCommit;
  private volatile ReplicationException failure;

  private final int copyChunkRows;
  private final AtomicBoolean stopRequested = new AtomicBoolean();
  private volatile boolean stopping;
  private volatile long stopTarget = Long.MAX_VALUE;

  ReplicationEngine(String name, WalSource source, PostgresConnector postgres, List<TreeMapping> mappings,
      int copyChunkRows) {
    this.name = name;
    this.copyChunkRows = copyChunkRows;
    this.source = source;
    this.mappings = mappings;
    for (int i = 0; i < mappings.size(); i++) {
      writers.add(mappings.get(i).writer(i));
    }
    this.checkpoints = new CheckpointStore(name);
    this.applier = new ChangeApplier(checkpoints, writers);
    this.session = new PostgresSession(postgres, checkpoints, name, () -> stopping);
    this.writerThread = new Thread(this::runWriter, "kv2pg-" + name + "-writer");
    writerThread.setDaemon(true);
    this.watchThread = new Thread(this::runWatch, "kv2pg-" + name + "-watch");
    watchThread.setDaemon(true);
  }

  void start() {
    LOG.info("kv2pg[{}]: starting: {} tree mapping(s) from {}", name, mappings.size(), source.describe());
    writerThread.start();
    watchThread.start();
  }

  /** Asks Postgres now and then what a long-running statement waits for, while the writer runs. */
  private void runWatch() {
    while (writerThread.isAlive()) {
      session.checkBlocked();
      try {
        writerThread.join(WATCH_INTERVAL_MILLIS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  // ---------------------------------------------------------------- writer thread

  private void runWriter() {
    try {
      droppedFamilyCheck().check();
      prepareTables();
      Plan plan = plan();
      startReader(plan);
      appliedSequence = plan.appliedSequence;
      if (!copy(plan)) {
        return;
      }
      session.run((connection, retry) -> {
        checkpoints.clearFailure(connection);
        return null;
      });
      setState(ReplicationState.STREAMING);
      LOG.info("kv2pg[{}]: streaming from sequence {}", name, appliedSequence + 1);
      applyLoop(Long.MAX_VALUE);
    } catch (PostgresSession.Abandoned e) {
      LOG.warn("kv2pg[{}]: stopped while Postgres was unavailable ({}); what was not committed is"
          + " applied at the next start", name, e.getCause().getMessage());
    } catch (ReplicationException e) {
      fail(e);
    } catch (PostgresSession.LimitReached e) {
      fail(new ReplicationException(ReplicationException.Kind.POSTGRES, "Replication '" + name + "' stopped: Postgres failed again and again"
          + " with " + e.getMessage() + ": " + SqlStates.advice(e.last()) + ". Then start the replication"
          + " again: it resumes after sequence " + appliedSequence + ".", e));
    } catch (SQLException e) {
      fail(new ReplicationException(ReplicationException.Kind.POSTGRES, "Replication '" + name + "' stopped: Postgres refused kv2pg's"
          + " work: " + SqlStates.describe(e) + ". Check the database permissions and the"
          + " mapping statements, then start the replication again.", e));
    } catch (Throwable t) {
      fail(new ReplicationException(ReplicationException.Kind.INTERNAL, "Replication '" + name + "' stopped on an unexpected error: "
          + t + ". Start it again to resume after the last commit.", t));
    } finally {
      releaseSnapshot();
      queue.abort();
      joinReader();
      session.close();
      synchronized (progress) {
        if (state != ReplicationState.FAILED) {
          state = ReplicationState.STOPPED;
        }
        progress.notifyAll();
      }
      LOG.info("kv2pg[{}]: {} at sequence {}", name, state == ReplicationState.FAILED ? "failed" : "stopped",
          appliedSequence);
    }
  }

  private void prepareTables() throws SQLException, PostgresSession.Abandoned {
    for (TableWriter writer : writers) {
      session.run((connection, retry) -> {
        try {
          writer.prepare(connection);
          connection.commit();
        } catch (SQLException e) {
          connection.rollback();
          if (SqlStates.isTransient(e)) {
            throw e;
          }
          throw new ReplicationException(ReplicationException.Kind.CONFIGURATION, "Preparing the table of mapping '" + writer.mappingName()
              + "' failed: " + SqlStates.describe(e) + ". Fix its create commands or declaration,"
              + " then start again.", e, writer.mappingName(), writer.treeName(), null, -1);
        } catch (RuntimeException e) {
          connection.rollback();
          throw e;
        }
        return null;
      });
    }
  }

  /** What this run must copy, and where the stream starts. */
  private static final class Plan {
    long appliedSequence;
    Snapshot snapshot;
    final Map<Integer, CopyProgress> copies = new HashMap<>();
  }

  private Plan plan() throws SQLException, PostgresSession.Abandoned {
    Plan plan = new Plan();
    session.run((connection, retry) -> {
      plan.copies.clear();
      OptionalLong applied = checkpoints.appliedSequence(connection);
      long latest = source.latestSequence();
      if (applied.isPresent() && applied.getAsLong() > latest) {
        throw new ReplicationException(ReplicationException.Kind.STORE, "Replication '" + name + "' has applied the store up to"
            + " sequence " + applied.getAsLong() + ", but the store at " + source.describe()
            + " only reaches sequence " + latest + ": it was restored from a backup or replaced."
            + " Its later writes would be missed. Re-copy: drop the replication's tables and forget"
            + " its checkpoint with ReplicationRecords.forget(\"" + name + "\") (or use a new"
            + " replication name), then start again.", null, null, null, null, applied.getAsLong());
      }
      Map<String, CopyProgress> copied = applied.isPresent() ? checkpoints.copyProgress(connection) : Map.of();
      Map<String, String> fingerprints = applied.isPresent() ? checkpoints.fingerprints(connection) : Map.of();
      connection.commit();
      for (int i = 0; i < mappings.size(); i++) {
        TreeMapping mapping = mappings.get(i);
        CopyProgress progress = copied.get(mapping.name());
        if (progress != null && !mapping.fingerprint().equals(fingerprints.get(mapping.name()))) {
          LOG.info("kv2pg[{}]: mapping '{}' changed since it was copied (prefix, table or"
              + " statements); copying it again", name, mapping.name());
          progress = null;
        }
        if (progress == null || !progress.completed()) {
          plan.copies.put(i, progress);
        }
      }
      if (plan.copies.isEmpty()) {
        checkpoints.forgetOtherMappings(connection, mappings.stream().map(TreeMapping::name).toList());
        connection.commit();
        plan.appliedSequence = applied.getAsLong();
        return null;
      }
      if (plan.snapshot == null) {
        plan.snapshot = source.database().getSnapshot();
        snapshot = plan.snapshot;
      }
      long snapshotSequence = plan.snapshot.getSequenceNumber();
      try {
        if (applied.isEmpty()) {
          checkpoints.clearCopyProgress(connection);
          checkpoints.saveAppliedSequence(connection, snapshotSequence);
        }
        checkpoints.forgetOtherMappings(connection, mappings.stream().map(TreeMapping::name).toList());
        for (Map.Entry<Integer, CopyProgress> copy : plan.copies.entrySet()) {
          CopyProgress previous = copy.getValue();
          CopyProgress start = new CopyProgress(snapshotSequence,
              previous == null ? null : previous.resumeAfter(),
              previous == null ? 0 : previous.rowsCopied(), false);
          TreeMapping mapping = mappings.get(copy.getKey());
          checkpoints.saveCopyProgress(connection, mapping.name(), start);
          checkpoints.saveFingerprint(connection, mapping.name(), mapping.fingerprint());
          copy.setValue(start);
        }
        connection.commit();
      } catch (SQLException | RuntimeException e) {
        connection.rollback();
        throw e;
      }
      plan.appliedSequence = applied.orElse(snapshotSequence);
      return null;
    });
    return plan;
  }

  private boolean copy(Plan plan)
      throws SQLException, PostgresSession.Abandoned, InterruptedException {
    if (plan.copies.isEmpty()) {
      return true;
    }
    setState(ReplicationState.COPYING);
    try {
      // Bring the tables that are already complete up to the snapshot first, so that when the
      // copy ends every table shows the store as of the snapshot (foreign keys between an old
      // table and a newly copied one hold).
      long snapshotSequence = plan.snapshot.getSequenceNumber();
      applyLoop(snapshotSequence);
      if (appliedSequence < snapshotSequence) {
        return false; // Stopping.
      }
      InitialCopy copy = new InitialCopy(name, source.database(), checkpoints, () -> stopping, copyChunkRows);
      for (Map.Entry<Integer, CopyProgress> entry : new java.util.TreeMap<>(plan.copies).entrySet()) {
        int index = entry.getKey();
        if (!copy.copy(session, mappings.get(index), index, writers.get(index), plan.snapshot,
            entry.getValue(), rows -> {
              rowsApplied.addAndGet(rows);
              lastCommit = Instant.now();
            })) {
          return false;
        }
      }
      return true;
    } finally {
      releaseSnapshot();
    }
  }

  /** Releases the copy's snapshot, if one is held; writer thread only. */
  private void releaseSnapshot() {
    if (snapshot != null) {
      if (source.database().isOwningHandle()) {
        source.database().releaseSnapshot(snapshot);
      }
      snapshot.close();
      snapshot = null;
    }
  }

  /**
   * Applies change groups until the stream ends, or until {@code limit} (a write batch boundary)
   * is applied. A batch taken beyond the limit waits in {@link #pending} for the next call.
   */
  private void applyLoop(long limit)
      throws SQLException, PostgresSession.Abandoned, InterruptedException {
    while (appliedSequence < limit) {
      ChangeBatch first = pending != null ? pending : queue.take(TAKE_NANOS);
      pending = null;
      if (first == null) {
        if (queue.isEnded()) {
          return;
        }
        continue;
      }
      if (first.lastSequence() > limit) {
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
          if (next.lastSequence() > limit) {
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
        throw new ReplicationException(ReplicationException.Kind.POSTGRES, limitMessage(group, e), e, null, null, null, group.lastSequence());
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
        + " replication again: it resumes after sequence " + appliedSequence + ", and nothing after it was"
        + " applied.";
  }

  private void applyWhole(ChangeGroup group) throws SQLException, PostgresSession.Abandoned {
    try {
      session.run((connection, retry) -> {
        if (retry && committedAlready(connection) >= group.lastSequence()) {
          publishApplied(group.lastSequence(), 0); // The uncertain commit did happen.
          return null;
        }
        long rows = applier.apply(connection, group);
        publishApplied(group.lastSequence(), rows);
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
        applier.applyIsolating(connection, group, committedAlready(connection), this::publishApplied);
        return null;
      });
    } catch (ReplicationException e) {
      Change bad = superseded(group, e);
      if (bad == null) {
        throw e;
      }
      LOG.warn("kv2pg[{}]: passing over key {} of mapping '{}' at sequence {}, which failed ({}), because"
          + " the store has rewritten or deleted that key since; its later write is applied in its turn",
          name, HexFormat.of().formatHex(bad.key()), mappings.get(bad.mapping()).name(), bad.sequence(),
          e.getMessage());
      ChangeGroup rest = group.after(appliedSequence, bad);
      if (!rest.isEmpty()) {
        apply(rest);
      }
    }
  }

  /** Returns the group's change that the error names if the store no longer holds its value. */
  private Change superseded(ChangeGroup group, ReplicationException error) {
    if (error.kind() != ReplicationException.Kind.DATA || error.key().isEmpty() || error.sequence().isEmpty()) {
      return null;
    }
    Change bad = group.find(error.key().get(), error.sequence().getAsLong());
    if (bad == null || bad.isRangeDelete() || bad.isDelete()) {
      return null;
    }
    try {
      byte[] current = source.database().get(mappings.get(bad.mapping()).columnFamily(), bad.key());
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

  private void publishApplied(long sequence, long rows) {
    synchronized (progress) {
      appliedSequence = sequence;
      rowsApplied.addAndGet(rows);
      lastCommit = Instant.now();
      progress.notifyAll();
    }
  }

  private void setState(ReplicationState next) {
    synchronized (progress) {
      if (state != ReplicationState.FAILED) {
        state = next;
      }
      progress.notifyAll();
    }
  }

  private void fail(ReplicationException error) {
    LOG.error("kv2pg[{}]: replication failed: {}", name, error.getMessage(), error);
    synchronized (progress) {
      failure = error;
      state = ReplicationState.FAILED;
      progress.notifyAll();
    }
    Connection connection = session.openConnection();
    if (connection != null) {
      try {
        if (!checkpoints.saveFailure(connection, error.getMessage())) {
          LOG.info("kv2pg[{}]: failure not recorded in Postgres: another runner owns the checkpoint", name);
        }
      } catch (SQLException e) {
        LOG.warn("kv2pg[{}]: could not record the failure in Postgres: {}", name, SqlStates.describe(e));
      }
    }
  }

  // ---------------------------------------------------------------- reader thread

  private void startReader(Plan plan) {
    Map<Integer, CopiedRange> copiedRanges = new HashMap<>();
    plan.copies.forEach((index, start) ->
        copiedRanges.put(index, new CopiedRange(start.snapshotSequence(), start.resumeAfter())));
    List<Route> routes = TreeMapping.routes(mappings);
    Map<Integer, ColumnFamilyHandle> families = new HashMap<>();
    mappings.forEach(mapping -> families.put(mapping.columnFamily().getID(), mapping.columnFamily()));
    ChangeRouter router = new ChangeRouter(routes, copiedRanges, (familyId, key) -> {
      try {
        return source.database().get(families.get(familyId), key);
      } catch (RocksDBException e) {
        throw new ReplicationException(ReplicationException.Kind.STORE, "RocksDB failed to read back the merged value of key "
            + java.util.HexFormat.of().formatHex(key) + ": " + e.getMessage(), e);
      }
    });
    long from = plan.appliedSequence + 1;
    Thread reader = new Thread(() -> runReader(router, droppedFamilyCheck(), from), "kv2pg-" + name + "-reader");
    reader.setDaemon(true);
    readerThread = reader;
    reader.start();
  }

  private DroppedFamilyCheck droppedFamilyCheck() {
    Map<String, String> mappingByTree = new HashMap<>();
    mappings.forEach(mapping -> mappingByTree.putIfAbsent(mapping.treeName(), mapping.name()));
    return new DroppedFamilyCheck(source.database(), mappingByTree, FAMILY_CHECK_NANOS);
  }

  private void runReader(ChangeRouter router, DroppedFamilyCheck droppedFamilies, long from) {
    // The decoder must be created on the thread that uses it.
    try (WalBatchDecoder decoder = new WalBatchDecoder();
        WalTailer tailer = new WalTailer(source, decoder, from)) {
      while (!queue.isAborted()) {
        if (stopping && tailer.nextSequence() > stopTarget) {
          queue.finish();
          return;
        }
        droppedFamilies.maybeCheck();
        WalBatch batch = tailer.poll();
        if (batch == null) {
          LockSupport.parkNanos(POLL_NANOS);
          continue;
        }
        if (!queue.put(router.route(batch))) {
          return;
        }
      }
    } catch (ReplicationException e) {
      queue.fail(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      queue.fail(new ReplicationException(ReplicationException.Kind.INTERRUPTED, "kv2pg[" + name + "]: the log reader was interrupted", e));
    } catch (Throwable t) {
      queue.fail(new ReplicationException(ReplicationException.Kind.INTERNAL, "Replication '" + name + "': the log reader failed"
          + " unexpectedly: " + t + ". Start the replication again to resume after the last commit.", t));
    }
  }

  private void joinReader() {
    Thread reader = readerThread;
    if (reader == null || reader == Thread.currentThread()) {
      return;
    }
    Threads.joinUninterruptibly(reader);
  }

  // ---------------------------------------------------------------- public API

  @Override
  public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
    if (timeout == null || timeout.isNegative()) {
      throw new IllegalArgumentException("timeout must not be null or negative");
    }
    long target = latestSequenceOr(Long.MAX_VALUE);
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (progress) {
      while (true) {
        ReplicationState current = state;
        if (current == ReplicationState.FAILED) {
          return false;
        }
        if ((current == ReplicationState.STREAMING || current == ReplicationState.STOPPED)
            && appliedSequence >= target) {
          return true;
        }
        if (current == ReplicationState.STOPPED) {
          return false;
        }
        long remaining = deadline - System.nanoTime();
        if (remaining <= 0) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(progress, remaining);
      }
    }
  }

  @Override
  public ReplicationStatus status() {
    synchronized (progress) {
      return new ReplicationStatus(name, state, appliedSequence, latestSequenceOr(appliedSequence),
          rowsApplied.get(), Optional.ofNullable(lastCommit), Optional.ofNullable(failure),
          state == ReplicationState.FAILED || state == ReplicationState.STOPPED
              ? Optional.empty() : session.waitingFor());
    }
  }

  @Override
  public void stop() {
    stop(DEFAULT_STOP_TIMEOUT);
  }

  @Override
  public void stop(Duration timeout) {
    if (timeout == null || timeout.isNegative()) {
      throw new IllegalArgumentException("timeout must not be null or negative");
    }
    if (stopRequested.compareAndSet(false, true)) {
      stopTarget = latestSequenceOr(appliedSequence);
      // The writer notices: a copy stops at its next chunk (and resumes at the next start);
      // streaming drains up to stopTarget.
      stopping = true;
      session.wake();
      LOG.info("kv2pg[{}]: stopping after sequence {}", name, stopTarget);
    }
    if (Thread.currentThread() == writerThread) {
      return;
    }
    try {
      if (join(timeout)) {
        return;
      }
      // Blocked in Postgres (a lock, a slow statement): cancel, then end kv2pg's server process,
      // which would otherwise keep waiting while holding the replication's lock.
      session.interrupt(false);
      if (join(INTERRUPT_GRACE)) {
        return;
      }
      session.interrupt(true);
      if (!join(INTERRUPT_GRACE)) {
        LOG.warn("kv2pg[{}]: stop returns while the writer thread is still running ({})", name, status());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private boolean join(Duration timeout) throws InterruptedException {
    writerThread.join(Math.max(1, timeout.toMillis()));
    return !writerThread.isAlive();
  }

  @Override
  public void close() {
    stop();
  }

  /** Returns the store's latest sequence, or {@code fallback} if the store was closed. */
  private long latestSequenceOr(long fallback) {
    try {
      return source.latestSequence();
    } catch (ReplicationException closed) {
      return fallback;
    }
  }

  @Override
  public String toString() {
    return "RunningReplication[" + name + ", " + state + "]";
  }
}
