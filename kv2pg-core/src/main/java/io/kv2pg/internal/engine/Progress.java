package io.kv2pg.internal.engine;

import io.kv2pg.ReplicationException;
import io.kv2pg.ReplicationState;
import io.kv2pg.ReplicationStatus;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * What a run has done: its state, the last committed sequence, the rows written, the failure.
 * The writer thread publishes; any thread reads a consistent {@link ReplicationStatus} or waits.
 *
 * <p>Concurrency: every field is guarded by this object's monitor, and every change notifies the
 * threads waiting on it in {@link #awaitCaughtUp}.
 */
final class Progress {
  private final String name;
  private ReplicationState state = ReplicationState.STARTING;
  private long appliedSequence;
  private long rowsApplied;
  private Instant lastCommit;
  private ReplicationException failure;

  Progress(String name) {
    this.name = name;
  }

  /** Records where this run starts: the checkpoint it read. */
  synchronized void startAt(long sequence) {
    appliedSequence = sequence;
    notifyAll();
  }

  /** Records a commit of {@code rows} rows that moved the checkpoint to {@code sequence}. */
  synchronized void committed(long sequence, long rows) {
    appliedSequence = sequence;
    rowsApplied += rows;
    lastCommit = Instant.now();
    notifyAll();
  }

  /** Records a committed chunk of the initial copy, which does not move the checkpoint. */
  synchronized void copied(long rows) {
    rowsApplied += rows;
    lastCommit = Instant.now();
    notifyAll();
  }

  synchronized long appliedSequence() {
    return appliedSequence;
  }

  synchronized ReplicationState state() {
    return state;
  }

  /** Moves to {@code next}, unless the run has failed. */
  synchronized void enter(ReplicationState next) {
    if (state != ReplicationState.FAILED) {
      state = next;
    }
    notifyAll();
  }

  synchronized void fail(ReplicationException error) {
    failure = error;
    state = ReplicationState.FAILED;
    notifyAll();
  }

  /**
   * Returns the status; {@code waitingFor} is asked only while the run can still make progress.
   *
   * @param sourceSequence the store's latest sequence
   */
  synchronized ReplicationStatus status(long sourceSequence, Supplier<Optional<String>> waitingFor) {
    boolean ended = state == ReplicationState.FAILED || state == ReplicationState.STOPPED;
    return new ReplicationStatus(name, state, appliedSequence, sourceSequence, rowsApplied,
        Optional.ofNullable(lastCommit), Optional.ofNullable(failure),
        ended ? Optional.empty() : waitingFor.get());
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
