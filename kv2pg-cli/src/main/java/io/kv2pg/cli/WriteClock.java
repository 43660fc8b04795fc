package io.kv2pg.cli;

import java.util.ArrayDeque;

/**
 * When the store reached each sequence number, so that the lag of a replication can be told in
 * milliseconds: the age of the oldest write it has not applied yet. Thread-safe.
 */
final class WriteClock {
  private final ArrayDeque<long[]> writes = new ArrayDeque<>();
  private long lastSequence = -1;

  /** Records that the store reached {@code sequence} at {@code nanos} ({@link System#nanoTime()}). */
  synchronized void record(long sequence, long nanos) {
    if (sequence > lastSequence) {
      writes.addLast(new long[] {sequence, nanos});
      lastSequence = sequence;
    }
  }

  /** Returns how long the oldest write after {@code applied} has waited, in milliseconds; 0 if none. */
  synchronized long lagMillis(long applied, long now) {
    while (!writes.isEmpty() && writes.peekFirst()[0] <= applied) {
      writes.removeFirst();
    }
    return writes.isEmpty() ? 0 : Math.max(0, (now - writes.peekFirst()[1]) / 1_000_000);
  }
}
