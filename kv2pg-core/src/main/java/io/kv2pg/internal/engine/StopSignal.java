package io.kv2pg.internal.engine;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A replication's stop request: made once, with the sequence number to drain to. A copy stops at
 * its next chunk; streaming applies up to the target, then ends.
 *
 * <p>Concurrency: any thread may request; the writer and reader threads read. The target is
 * written before the flag, so a thread that sees the flag sees the target.
 */
final class StopSignal {
  private final AtomicBoolean requested = new AtomicBoolean();
  private volatile long target = Long.MAX_VALUE;
  private volatile boolean stopping;

  /** Requests the stop; returns {@code false} if it was requested before (the first target stays). */
  boolean request(long drainTo) {
    if (!requested.compareAndSet(false, true)) {
      return false;
    }
    target = drainTo;
    stopping = true;
    return true;
  }

  boolean isStopping() {
    return stopping;
  }

  /** Returns whether the stream has read everything a stop must drain. */
  boolean drained(long nextSequence) {
    return stopping && nextSequence > target;
  }

  long target() {
    return target;
  }
}
