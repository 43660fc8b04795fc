package io.kv2pg.internal.engine;

import io.kv2pg.OnDataError;
import io.kv2pg.OnGap;
import io.kv2pg.ReplicationException;
import io.kv2pg.ReplicationState;
import io.kv2pg.ReplicationStatus;
import io.kv2pg.RunningReplication;
import io.kv2pg.SequenceGapException;
import io.kv2pg.internal.change.Route;
import io.kv2pg.internal.postgres.CheckpointStore;
import io.kv2pg.internal.postgres.CheckpointStore.CopyProgress;
import io.kv2pg.internal.postgres.PostgresConnector;
import io.kv2pg.internal.postgres.PostgresSession;
import io.kv2pg.internal.postgres.SqlStates;
import io.kv2pg.internal.rocksdb.WalSource;
import io.kv2pg.internal.table.MappingPlan;
import io.kv2pg.internal.table.TableWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.rocksdb.Snapshot;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A started replication, and the owner of its threads:
 *
 * <ul>
 *   <li>the <b>writer</b> ({@code kv2pg-<name>-writer}) owns the Postgres session, the copy's
 *       snapshot and the {@link ApplyLoop}: it prepares the tables, plans the run ({@link
 *       StartupPlan}), copies, then applies what the reader queues;
 *   <li>the <b>reader</b> ({@code kv2pg-<name>-reader}, a {@link LogReader}) tails the WAL into
 *       the bounded {@link ChangeQueue}, the only data the two threads share;
 *   <li>the <b>watch</b> ({@code kv2pg-<name>-watch}) asks Postgres, now and then, what a
 *       long-running statement of the writer waits for, for {@link ReplicationStatus#waitingFor()}.
 * </ul>
 *
 * <p>Concurrency: what the run has done is published through {@link Progress}, under its one
 * monitor; a stop request through {@link StopSignal}. Any thread may call the public methods.
 * {@link #stop(Duration)} waits, bounded, for the writer, which joins the reader (bounded) before
 * it ends; the watch ends with the writer.
 */
public final class ReplicationEngine implements RunningReplication {
  private static final Logger LOG = LoggerFactory.getLogger(ReplicationEngine.class);
  private static final long QUEUE_WEIGHT = 64L << 20;
  private static final long WATCH_INTERVAL_MILLIS = 1_000;
  /** How long a stop waits after cancelling, and again after terminating, kv2pg's server process. */
  private static final Duration INTERRUPT_GRACE = Duration.ofSeconds(5);

  private final String name;
  private final WalSource source;
  private final List<MappingPlan> mappings;
  /** One route per mapping, by position: changes refer to them, and writers are found by them. */
  private final List<Route> routes;
  private final List<TableWriter> writers = new ArrayList<>();
  private final int copyChunkRows;
  private final CheckpointStore checkpoints;
  private final PostgresSession session;
  /** The reader's hand-over; replaced, with the reader and the apply loop, after a re-copied gap. */
  private volatile ChangeQueue queue = new ChangeQueue(QUEUE_WEIGHT);
  private final Progress progress;
  private final DeadLetterBook deadLetters;
  private final Telemetry.Factory telemetryFactory;
  /** Set by {@link #start()}, so that no gauge reads a half-constructed engine. */
  private volatile Telemetry telemetry = Telemetry.NONE;
  private final StopSignal stop = new StopSignal();
  private final OnGap onGap;
  private final Map<Route, TableWriter> writerByRoute = new HashMap<>();
  private LogReader reader;
  private ApplyLoop applyLoop;
  /** The last latest sequence read from the source, -1 before the first; racy updates only lose a newer value. */
  private volatile long lastLatestSequence = -1;
  private final Thread writerThread;
  private final Thread watchThread;

  /**
   * How a run behaves, as the builder set it.
   *
   * @param copyChunkRows rows per initial-copy transaction
   * @param stallAfter how long the run may be behind without a commit before it counts as stalled
   * @param telemetry makes the run's metrics
   * @param onDataError what to do with a change that its data makes impossible to apply
   * @param onGap what a gap in the write-ahead log does
   */
  public record Settings(int copyChunkRows, Duration stallAfter, Telemetry.Factory telemetry,
      OnDataError onDataError, OnGap onGap) {
    /** Rows per initial-copy transaction unless a test asks for fewer. */
    public static final int DEFAULT_COPY_CHUNK_ROWS = InitialCopy.CHUNK_ROWS;
    public static final Duration DEFAULT_STALL_AFTER = Duration.ofSeconds(60);
  }

  public ReplicationEngine(String name, WalSource source, PostgresConnector postgres, List<MappingPlan> mappings,
      Settings settings) {
    this.name = name;
    this.source = source;
    this.mappings = List.copyOf(mappings);
    this.copyChunkRows = settings.copyChunkRows();
    this.routes = MappingPlan.routes(this.mappings);
    for (int i = 0; i < mappings.size(); i++) {
      writers.add(mappings.get(i).writer(i));
      writerByRoute.put(routes.get(i), writers.get(i));
    }
    this.checkpoints = new CheckpointStore(name);
    this.progress = new Progress(name, settings.stallAfter());
    this.session = new PostgresSession(postgres, checkpoints, name, stop::isStopping, progress::retried);
    this.telemetryFactory = settings.telemetry();
    this.onGap = settings.onGap();
    this.deadLetters = new DeadLetterBook(name, settings.onDataError() == OnDataError.DEAD_LETTER, checkpoints,
        progress);
    newPipeline();
    this.writerThread = new Thread(this::runWriter, "kv2pg-" + name + "-writer");
    writerThread.setDaemon(true);
    this.watchThread = new Thread(this::runWatch, "kv2pg-" + name + "-watch");
    watchThread.setDaemon(true);
  }

  /** Drops what the run planned (its snapshot, the queued changes, the reader) so that it plans again. */
  private void planAgain(Snapshot[] snapshot) {
    StartupPlan.release(source, snapshot[0]);
    snapshot[0] = null;
    queue.abort();
    reader.join();
    queue = new ChangeQueue(QUEUE_WEIGHT);
    newPipeline();
  }

  /** Makes the reader and the apply loop around the current queue. */
  private void newPipeline() {
    this.reader = new LogReader(name, source, this.mappings, routes, queue, stop, progress);
    this.applyLoop = new ApplyLoop(name, source, this.mappings, queue, session, checkpoints,
        new ChangeApplier(checkpoints, writerByRoute, deadLetters), deadLetters, progress, stop);
  }

  /** Starts the engine's threads; call once. */
  public void start() {
    LOG.info("kv2pg[{}]: starting: {} tree mapping(s) from {}", name, mappings.size(), source.describe());
    progress.seen(latestSequenceOr(0));
    telemetry = telemetryFactory.create(name, mappings.stream().map(MappingPlan::name).toList(), this::status,
        () -> queue.weight());
    progress.reportTo(telemetry);
    writerThread.start();
    watchThread.start();
  }

  private void runWatch() {
    while (writerThread.isAlive()) {
      session.checkBlocked();
      progress.checkStall(latestSequenceOr(progress.appliedSequence()), session::waitingFor);
      try {
        writerThread.join(WATCH_INTERVAL_MILLIS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  private void runWriter() {
    Snapshot[] snapshot = new Snapshot[1];
    try {
      reader.droppedFamilyCheck().check();
      StartupPlan.prepareTables(session, writers);
      session.run((connection, retry) -> {
        deadLetters.load(connection);
        return null;
      });
      StartupPlan.Gap gap = null;
      while (true) {
        try {
          run(gap, snapshot);
          return;
        } catch (SequenceGapException e) {
          if (onGap != OnGap.RECOPY || stop.isStopping()) {
            throw e;
          }
          gap = new StartupPlan.Gap(e.firstMissing(), e.lastMissing());
          LOG.warn("kv2pg[{}]: sequence numbers {} to {} are missing from the write-ahead log of {} (purged,"
              + " disableWAL or ingested files); onGap is RECOPY, so every mapping is copied again from a new"
              + " snapshot, replacing the tables' rows in one transaction, and the stream goes on from there",
              name, e.firstMissing(), e.lastMissing(), source.describe());
          progress.gapRecopied();
          // Not caught up until the re-copy commits: the new plan moves the checkpoint first.
          progress.enter(ReplicationState.COPYING, ": every mapping, after the gap");
          planAgain(snapshot);
        } catch (InitialCopy.TableHoldsRows e) {
          LOG.info("kv2pg[{}]: {}; copying it again in one transaction that replaces them", name, e.getMessage());
          session.run((connection, retry) -> {
            checkpoints.markForRecopy(connection, List.of(e.mapping));
            connection.commit();
            return null;
          });
          planAgain(snapshot);
        }
      }
    } catch (PostgresSession.Abandoned e) {
      LOG.warn("kv2pg[{}]: stopped while Postgres was unavailable ({}); what was not committed is"
          + " applied at the next start", name, e.getCause().getMessage());
    } catch (ReplicationException e) {
      fail(e);
    } catch (PostgresSession.LimitReached e) {
      fail(new ReplicationException(ReplicationException.Kind.POSTGRES, "Replication '" + name + "' stopped:"
          + " Postgres failed again and again with " + e.getMessage() + ": " + SqlStates.advice(e.last())
          + ". Then start the replication again: it resumes after sequence " + progress.appliedSequence()
          + ".", e));
    } catch (SQLException e) {
      fail(new ReplicationException(ReplicationException.Kind.POSTGRES, "Replication '" + name + "' stopped:"
          + " Postgres refused kv2pg's work: " + SqlStates.describe(e) + ". Check the database permissions"
          + " and the mapping statements, then start the replication again.", e));
    } catch (Throwable t) {
      fail(new ReplicationException(ReplicationException.Kind.INTERNAL, "Replication '" + name + "' stopped"
          + " on an unexpected error: " + t + ". Start it again to resume after the last commit.", t));
    } finally {
      StartupPlan.release(source, snapshot[0]);
      queue.abort();
      reader.join();
      session.close();
      source.close();
      progress.enter(ReplicationState.STOPPED, " at sequence " + progress.appliedSequence());
    }
  }

  /**
   * Plans the run (re-copying every mapping after {@code gap}, when not {@code null}), copies,
   * then streams until the stream ends. The snapshot it holds is in {@code snapshot[0]}.
   */
  private void run(StartupPlan.Gap gap, Snapshot[] snapshot)
      throws SQLException, PostgresSession.Abandoned, InterruptedException {
    StartupPlan plan = StartupPlan.make(name, source, mappings, writers, session, checkpoints, gap);
    snapshot[0] = plan.snapshot;
    reader.start(plan.appliedSequence, plan.skippedByStream());
    progress.startAt(plan.appliedSequence);
    boolean copied = copy(plan);
    StartupPlan.release(source, snapshot[0]);
    snapshot[0] = null;
    if (!copied) {
      return;
    }
    session.run((connection, retry) -> {
      checkpoints.clearFailure(connection);
      return null;
    });
    progress.enter(ReplicationState.STREAMING, " from sequence " + (progress.appliedSequence() + 1));
    applyLoop.run(Long.MAX_VALUE);
  }

  /** Runs the plan's copies; returns {@code false} if a stop interrupted them. */
  private boolean copy(StartupPlan plan) throws SQLException, PostgresSession.Abandoned, InterruptedException {
    if (plan.copies.isEmpty()) {
      return true;
    }
    progress.enter(ReplicationState.COPYING, ": " + plan.copies.size() + " mapping(s) from the snapshot at sequence "
        + plan.snapshot.getSequenceNumber());
    // Bring the tables that are already complete up to the snapshot first, so that when the
    // copy ends every table shows the store as of the snapshot (foreign keys between an old
    // table and a newly copied one hold).
    long snapshotSequence = plan.snapshot.getSequenceNumber();
    applyLoop.run(snapshotSequence);
    if (progress.appliedSequence() < snapshotSequence) {
      return false; // Stopping.
    }
    InitialCopy copy = new InitialCopy(name, source.database(), checkpoints, stop::isStopping, copyChunkRows,
        deadLetters);
    if (!plan.recopies.isEmpty()) {
      List<InitialCopy.Target> targets = new ArrayList<>();
      for (Map.Entry<Integer, CopyProgress> entry : new TreeMap<>(plan.copies).entrySet()) {
        int index = entry.getKey();
        targets.add(new InitialCopy.Target(mappings.get(index), routes.get(index), writers.get(index),
            entry.getValue(), plan.recopies.contains(index)));
      }
      return copy.recopy(session, targets, plan.snapshot, progress);
    }
    for (Map.Entry<Integer, CopyProgress> entry : new TreeMap<>(plan.copies).entrySet()) {
      int index = entry.getKey();
      if (!copy.copy(session, mappings.get(index), routes.get(index), writers.get(index), plan.snapshot, entry.getValue(),
          progress)) {
        return false;
      }
    }
    return true;
  }

  private void fail(ReplicationException error) {
    LOG.error("kv2pg[{}]: failed: {}", name, error.getMessage(), error);
    progress.fail(error);
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

  // ---------------------------------------------------------------- public API

  @Override
  public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
    if (timeout == null || timeout.isNegative()) {
      throw new IllegalArgumentException("timeout must not be null or negative");
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    long target;
    while ((target = caughtUpTargetOr(Long.MAX_VALUE)) < 0) {
      // A followed store during the copy: the writes made before the call are known only after it.
      if (progress.state() == ReplicationState.FAILED || progress.state() == ReplicationState.STOPPED
          || deadline - System.nanoTime() <= 0) {
        return false;
      }
      progress.awaitCaughtUp(Long.MAX_VALUE, Math.min(deadline - System.nanoTime(), 5_000_000L));
    }
    return progress.awaitCaughtUp(target, Math.max(0, deadline - System.nanoTime()));
  }

  private long caughtUpTargetOr(long fallback) {
    try {
      return source.writesSoFar();
    } catch (ReplicationException closed) {
      return fallback;
    }
  }

  @Override
  public ReplicationStatus status() {
    return progress.status(latestSequenceOr(progress.appliedSequence()), session::waitingFor);
  }

  @Override
  public void stop() {
    stop(DEFAULT_STOP_TIMEOUT);
  }

  @Override
  public void stop(Duration timeout) {
    checkTimeout(timeout);
    stopAfter(latestSequenceOr(progress.appliedSequence()), "after sequence", timeout);
  }

  @Override
  public void stopAtNextCommit(Duration timeout) {
    checkTimeout(timeout);
    // The transaction being applied, if any, holds batches after the applied sequence: it commits,
    // and no later batch starts.
    stopAfter(progress.appliedSequence(), "at the next commit, after sequence", timeout);
  }

  private static void checkTimeout(Duration timeout) {
    if (timeout == null || timeout.isNegative()) {
      throw new IllegalArgumentException("timeout must not be null or negative");
    }
  }

  private void stopAfter(long drainTo, String how, Duration timeout) {
    if (stop.request(drainTo)) {
      session.wake();
      LOG.info("kv2pg[{}]: stopping {} {}", name, how, drainTo);
    }
    if (Thread.currentThread() == writerThread) {
      return;
    }
    try {
      boolean ended = join(timeout);
      if (!ended) {
        // Blocked in Postgres (a lock, a slow statement): cancel, then end kv2pg's server process,
        // which would otherwise keep waiting while holding the replication's lock.
        session.interrupt(false);
        ended = join(INTERRUPT_GRACE);
      }
      if (!ended) {
        session.interrupt(true);
        ended = join(INTERRUPT_GRACE);
      }
      if (ended) {
        telemetry.close();
      } else {
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

  /**
   * Returns the store's latest sequence; once the store was closed (a followed store's secondary is
   * closed when the run ends), the last one read, or {@code fallback} if none was.
   */
  private long latestSequenceOr(long fallback) {
    try {
      long latest = source.latestSequence();
      lastLatestSequence = Math.max(lastLatestSequence, latest);
      return latest;
    } catch (ReplicationException closed) {
      return lastLatestSequence >= 0 ? Math.max(lastLatestSequence, progress.appliedSequence()) : fallback;
    }
  }

  @Override
  public String toString() {
    return "RunningReplication[" + name + ", " + progress.state() + "]";
  }
}
