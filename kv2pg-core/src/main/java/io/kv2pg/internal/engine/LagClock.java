package io.kv2pg.internal.engine;

import java.time.Duration;

/**
 * When kv2pg first saw each sequence number in the store, so that the lag can be told in time:
 * RocksDB records no time of writing. Keeps samples (latest sequence seen, when), one per
 * millisecond at most; the sequences between two samples count from the later one. At most
 * {@value #MAX_SAMPLES} samples are kept: when full, neighbours merge into the earlier one's time,
 * so that a long backlog is told a little older than it is, never younger.
 *
 * <p>Concurrency: thread-safe; the reader and the status readers call {@link #seen}, any thread
 * {@link #lag}.
 */
final class LagClock {
  static final int MAX_SAMPLES = 4096;
  private static final long RESOLUTION_NANOS = 1_000_000;

  private final long[] sequences = new long[MAX_SAMPLES];
  private final long[] times = new long[MAX_SAMPLES];
  /** Samples {@code first .. first + size - 1}, modulo the capacity, oldest first. */
  private int first;
  private int size;
  private long newestSequence = -1;

  /** Records that the store held {@code sequence} at {@code nanoTime} ({@link System#nanoTime}). */
  synchronized void seen(long sequence, long nanoTime) {
    if (sequence <= newestSequence) {
      return;
    }
    newestSequence = sequence;
    if (size > 0 && nanoTime - times[index(size - 1)] < RESOLUTION_NANOS) {
      sequences[index(size - 1)] = sequence;
      return;
    }
    if (size == MAX_SAMPLES) {
      halve();
    }
    sequences[index(size)] = sequence;
    times[index(size)] = nanoTime;
    size++;
  }

  /**
   * Returns how long the first sequence after {@code appliedSequence} has been waiting at {@code
   * nanoTime}, or zero if no later sequence was seen.
   */
  synchronized Duration lag(long appliedSequence, long nanoTime) {
    while (size > 0 && sequences[first] <= appliedSequence) {
      first = index(1);
      size--;
    }
    return size == 0 ? Duration.ZERO : Duration.ofNanos(Math.max(0, nanoTime - times[first]));
  }

  /** Merges each pair of samples into one: the later one's sequence at the earlier one's time. */
  private void halve() {
    int kept = 0;
    for (int i = 0; i < size; i += 2) {
      int last = Math.min(i + 1, size - 1);
      long sequence = sequences[index(last)];
      long time = times[index(i)];
      sequences[index(kept)] = sequence;
      times[index(kept)] = time;
      kept++;
    }
    size = kept;
  }

  private int index(int offset) {
    return (first + offset) % MAX_SAMPLES;
  }
}
