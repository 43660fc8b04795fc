package io.kv2pg.internal.engine;

import io.kv2pg.ReplicationException;
import io.kv2pg.ReplicationState;
import io.kv2pg.ReplicationStatus;
import io.kv2pg.ReplicationStatus.CopyProgress;
import io.kv2pg.internal.postgres.SqlStates;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a run has done: its state, the last committed sequence, its counts, the copy under way,
 * the failure; the one place where the run's events are counted and handed to its {@link
 * Telemetry}. The writer thread publishes; any thread reads a consistent {@link ReplicationStatus}
 * or waits.
 *
 * <p>Concurrency: every field is guarded by this object's monitor, and every change notifies the
 * threads waiting on it in {@link #awaitCaughtUp}; the {@link LagClock} has its own. The
 * telemetry is told first, outside the monitor, and the change published after it: a thread that
 * sees a commit in the status (or returns from {@code awaitCaughtUp}) finds the meters agree.
 */
final class Progress {
  private static final Logger LOG = LoggerFactory.getLogger(Progress.class);

  private final String name;
  private final long stallAfterNanos;
  private final LagClock lagClock = new LagClock();
  private volatile Telemetry telemetry = Telemetry.NONE;
  private ReplicationState state = ReplicationState.STARTING;
  private long appliedSequence;
  private long rowsApplied;
  private long commits;
  private long retries;
  private long deadlocks;
  private long deadLetters;
  private long gapsRecopied;
  private Instant lastCommit;
  /** When the run was made, by {@link System#nanoTime}: what it copies was found then. */
  private final long createdNanos = System.nanoTime();
  /** When the run last moved (started, committed), by {@link System#nanoTime}. */
  private long lastMovedNanos = System.nanoTime();
  private boolean stallReported;
  private CopyProgress copy;
  private ReplicationException failure;

  Progress(String name, Duration stallAfter) {
    this.name = name;
    this.stallAfterNanos = stallAfter.toNanos();
  }

  /** Sets where the run's events go besides the status; call before the run starts. */
  void reportTo(Telemetry telemetry) {
    this.telemetry = telemetry;
  }

  /** Records that the store held {@code sequence} now, for the lag in time. */
  void seen(long sequence) {
    lagClock.seen(sequence, System.nanoTime());
  }

  /** Records where this run starts: the checkpoint it read. */
  synchronized void startAt(long sequence) {
    appliedSequence = sequence;
    moved();
  }

  /** Records a commit of the stream that moved the checkpoint to {@code sequence}. */
  void committed(long sequence, AppliedRows rows, long nanos) {
    telemetry.committed(rows, nanos);
    synchronized (this) {
      appliedSequence = sequence;
      rowsApplied += rows.total();
      commits++;
      lastCommit = Instant.now();
      moved();
    }
  }

  /** Records that a commit whose outcome was uncertain did happen, moving the checkpoint. */
  synchronized void reached(long sequence) {
    appliedSequence = sequence;
    moved();
  }

  /** Records that the initial copy of {@code mapping} starts, or resumes after {@code rowsCopied}. */
  synchronized void copyStarted(String mapping, long rowsCopied, long estimatedRows) {
    copy = new CopyProgress(mapping, rowsCopied, Math.max(rowsCopied, estimatedRows));
    notifyAll();
  }

  /** Records a committed chunk of the initial copy, which does not move the checkpoint. */
  void copied(long rows, long nanos) {
    String mapping;
    synchronized (this) {
      mapping = copy.mapping();
    }
    telemetry.copied(java.util.Map.of(mapping, rows), nanos);
    synchronized (this) {
      rowsApplied += rows;
      commits++;
      lastCommit = Instant.now();
      long copied = copy.rowsCopied() + rows;
      copy = new CopyProgress(mapping, copied, Math.max(copied, copy.estimatedRows()));
      moved();
    }
  }

  /**
   * Records rows of a re-copy written inside its one transaction: the copy moves, but nothing is
   * committed (and counted) until {@link #recopyCommitted}.
   */
  synchronized void copyWritten(long rows) {
    long copied = copy.rowsCopied() + rows;
    copy = new CopyProgress(copy.mapping(), copied, Math.max(copied, copy.estimatedRows()));
    moved();
  }

  /** Records that a re-copy's transaction committed, with the rows of each mapping it copied. */
  void recopyCommitted(java.util.Map<String, Long> rowsByMapping, long nanos) {
    telemetry.copied(rowsByMapping, nanos);
    synchronized (this) {
      rowsApplied += rowsByMapping.values().stream().mapToLong(Long::longValue).sum();
      commits++;
      lastCommit = Instant.now();
      moved();
    }
  }

  /** Records that a gap in the write-ahead log is re-copied. */
  void gapRecopied() {
    telemetry.gapRecopied();
    synchronized (this) {
      gapsRecopied++;
    }
  }

  /** Records that the copy of the current mapping is complete. */
  synchronized void copyEnded() {
    copy = null;
    notifyAll();
  }

  /** Records an attempt that Postgres failed and that is tried again. */
  void retried(SQLException error) {
    telemetry.retried(error);
    boolean deadlock = SqlStates.isDeadlock(error);
    synchronized (this) {
      retries++;
      if (deadlock) {
        deadlocks++;
      }
    }
  }

  /** Records a change set aside because of its data, once its transaction committed. */
  void deadLettered() {
    telemetry.deadLettered();
    synchronized (this) {
      deadLetters++;
    }
  }

  private void moved() {
    lastMovedNanos = System.nanoTime();
    notifyAll();
  }

  synchronized long appliedSequence() {
    return appliedSequence;
  }

  synchronized ReplicationState state() {
    return state;
  }

  /** Moves to {@code next}, unless the run has failed, and logs the change with {@code detail}. */
  void enter(ReplicationState next, String detail) {
    synchronized (this) {
      if (state == ReplicationState.FAILED || state == next) {
        notifyAll();
        return;
      }
      state = next;
      notifyAll();
    }
    LOG.info("kv2pg[{}]: {}{}", name, next.name().toLowerCase(Locale.ROOT), detail);
  }

  synchronized void fail(ReplicationException error) {
    failure = error;
    state = ReplicationState.FAILED;
    copy = null;
    notifyAll();
  }

  /**
   * Returns the status; {@code waitingFor} is asked only while the run can still make progress.
   *
   * @param sourceSequence the store's latest sequence
   */
  ReplicationStatus status(long sourceSequence, Supplier<Optional<String>> waitingFor) {
    long now = System.nanoTime();
    seen(sourceSequence);
    synchronized (this) {
      boolean ended = ended();
      Duration lag = ended && failure == null && appliedSequence >= sourceSequence
          ? Duration.ZERO : lagClock.lag(appliedSequence, now);
      if (state == ReplicationState.COPYING) {
        // The checkpoint is the snapshot's already, but the tables hold it only when the copy ends.
        lag = Duration.ofNanos(Math.max(lag.toNanos(), now - createdNanos));
      }
      return new ReplicationStatus(name, state, appliedSequence, sourceSequence, rowsApplied,
          Optional.ofNullable(lastCommit), Optional.ofNullable(failure),
          ended ? Optional.empty() : waitingFor.get(), lag,
          Optional.ofNullable(state == ReplicationState.COPYING ? copy : null), commits, retries, deadlocks, deadLetters,
          isStalled(sourceSequence, now), gapsRecopied);
    }
  }

  private boolean ended() {
    return state == ReplicationState.FAILED || state == ReplicationState.STOPPED;
  }

  /** Behind, and nothing committed for longer than allowed; never while ended. */
  private boolean isStalled(long sourceSequence, long now) {
    boolean behind = state == ReplicationState.COPYING || sourceSequence > appliedSequence;
    return !ended() && behind && now - lastMovedNanos > stallAfterNanos;
  }

  /**
   * Logs, once, that the run stalled, naming what it waits for, and once that it moves again.
   * Called now and then by the watch thread.
   */
  void checkStall(long sourceSequence, Supplier<Optional<String>> waitingFor) {
    long now = System.nanoTime();
    boolean stalled;
    long idleSeconds;
    String behind;
    synchronized (this) {
      stalled = isStalled(sourceSequence, now);
      if (stalled == stallReported) {
        return;
      }
      stallReported = stalled;
      if (ended()) {
        return; // The state change says it.
      }
      idleSeconds = TimeUnit.NANOSECONDS.toSeconds(now - lastMovedNanos);
      behind = state == ReplicationState.COPYING && copy != null
          ? "copying mapping '" + copy.mapping() + "' (" + copy.rowsCopied() + " rows so far)"
          : Math.max(0, sourceSequence - appliedSequence) + " sequences behind";
    }
    if (stalled) {
      LOG.warn("kv2pg[{}]: stalled: {} and nothing committed for {} s; waiting for: {}", name,
          behind, idleSeconds, waitingFor.get().orElse("nothing kv2pg can name (a slow statement or the store's"
              + " log; see the log above)"));
    } else {
      LOG.info("kv2pg[{}]: moving again after a stall", name);
    }
  }

  /**
   * Waits until the checkpoint reaches {@code target} while streaming or stopped.
   *
   * @return {@code false} if the run failed, stopped short of the target, or the time ran out
   */
  synchronized boolean awaitCaughtUp(long target, long timeoutNanos) throws InterruptedException {
    long deadline = System.nanoTime() + timeoutNanos;
    while (true) {
      if (state == ReplicationState.FAILED) {
        return false;
      }
      if ((state == ReplicationState.STREAMING || state == ReplicationState.STOPPED)
          && appliedSequence >= target) {
        return true;
      }
      if (state == ReplicationState.STOPPED) {
        return false;
      }
      long remaining = deadline - System.nanoTime();
      if (remaining <= 0) {
        return false;
      }
      TimeUnit.NANOSECONDS.timedWait(this, remaining);
    }
  }
}
