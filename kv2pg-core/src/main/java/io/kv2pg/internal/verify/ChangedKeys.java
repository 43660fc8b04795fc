package io.kv2pg.internal.verify;

import io.kv2pg.ReplicationException;
import io.kv2pg.internal.change.Change;
import io.kv2pg.internal.change.ChangeBatch;
import io.kv2pg.internal.change.ChangeRouter;
import io.kv2pg.internal.change.KeyRanges;
import io.kv2pg.internal.change.Route;
import io.kv2pg.internal.change.RoutedLog;
import io.kv2pg.internal.rocksdb.WalSource;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * The keys the write-ahead log changed after a checkpoint, per mapping position, read on demand
 * up to a sequence number that only grows: what a verification leaves out (in flight), and what a
 * repair leaves alone. Keeps, per key, the first sequence that changed it, so that a verification
 * can ask for the keys changed up to its snapshot while a repair has read further.
 *
 * <p>Memory grows with the keys written meanwhile, not with the tables. Not thread-safe; the
 * thread that uses it must be the one that created it (the WAL decoder is bound to its thread).
 */
public final class ChangedKeys {
  private static final long READ_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(30);

  private final WalSource source;
  private final List<Route> routes;
  private final ChangeRouter router;
  private final Map<Integer, Map<ByteBuffer, Long>> keys = new HashMap<>();
  private final Map<Integer, List<Change>> ranges = new HashMap<>();
  /** The last sequence read; the checkpoint at first. */
  private long readThrough;

  /** Starts after {@code checkpoint}, having read nothing. */
  public ChangedKeys(WalSource source, List<Route> routes, long checkpoint) {
    this.source = source;
    this.routes = List.copyOf(routes);
    this.router = new ChangeRouter(this.routes, Map.of(), (family, key) -> new byte[0]);
    this.readThrough = checkpoint;
  }

  /**
   * Reads the log up to sequence {@code to} (nothing if it was read already).
   *
   * @throws ReplicationException if the log cannot be read that far within 30 s
   */
  public void readThrough(long to) {
    if (to <= readThrough) {
      return;
    }
    long deadline = System.nanoTime() + READ_TIMEOUT_NANOS;
    try (RoutedLog log = new RoutedLog(source, router, readThrough + 1)) {
      while (log.nextSequence() <= to) {
        ChangeBatch changes = log.poll();
        if (changes == null) {
          if (System.nanoTime() - deadline > 0) {
            throw new ReplicationException(ReplicationException.Kind.STORE, "Verification could not read the"
                + " write-ahead log up to sequence " + to + "; try again.", null);
          }
          continue;
        }
        for (Change change : changes.changes()) {
          int position = change.route().position();
          if (change.isRangeDelete()) {
            ranges.computeIfAbsent(position, m -> new ArrayList<>()).add(change);
          } else {
            keys.computeIfAbsent(position, m -> new HashMap<>())
                .putIfAbsent(ByteBuffer.wrap(change.key()), change.sequence());
          }
        }
      }
      readThrough = Math.max(to, log.nextSequence() - 1);
    }
  }

  /** Returns the keys of the mapping at {@code position} changed after the checkpoint, up to {@code sequence}. */
  public Predicate<byte[]> through(int position, long sequence) {
    Map<ByteBuffer, Long> touched = keys.getOrDefault(position, Map.of());
    List<Change> removed = ranges.getOrDefault(position, List.of());
    return key -> {
      Long first = touched.get(ByteBuffer.wrap(key));
      if (first != null && first <= sequence) {
        return true;
      }
      for (Change range : removed) {
        if (range.sequence() <= sequence && KeyRanges.contains(range.key(), range.rangeEnd(), key)) {
          return true;
        }
      }
      return false;
    };
  }

  /** Returns the keys of the mapping at {@code position} changed after the checkpoint, in all that was read. */
  public Predicate<byte[]> all(int position) {
    return through(position, Long.MAX_VALUE);
  }
}
