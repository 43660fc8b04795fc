package io.kv2pg.internal.engine;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A replication's stop request, with the sequence number to drain to: the store's latest sequence
 * for a draining stop, the applied sequence for a stop at the next commit. A copy stops at its next
 * chunk; streaming applies the write batches that start at or before the target, then ends. A later
 * request may bring the target closer (a stop at the next commit cuts a drain short), never further.
 *
 * <p>Concurrency: any thread may request; the writer and reader threads read. The target is
 * written before the flag, so a thread that sees the flag sees the target.
 */
final class StopSignal {
  private final AtomicBoolean requested = new AtomicBoolean();
  private final AtomicLong target = new AtomicLong(Long.MAX_VALUE);
  private volatile boolean stopping;

  /**
   * Requests the stop, or brings the target of an earlier request closer.
   *
   * @return {@code true} for the first request, or when this one lowered the target
   */
  boolean request(long drainTo) {
    long before = target.getAndAccumulate(drainTo, Math::min);
    stopping = true;
    return requested.compareAndSet(false, true) || drainTo < before;
  }

  boolean isStopping() {
    return stopping;
  }

  /** Returns whether the stream has read everything a stop must drain. */
  boolean drained(long nextSequence) {
    return stopping && nextSequence > target.get();
  }

  long target() {
    return target.get();
  }
}
