package io.kv2pg.internal.change;

import io.kv2pg.internal.rocksdb.WalBatch;
import io.kv2pg.internal.rocksdb.WalBatchDecoder;
import io.kv2pg.internal.rocksdb.WalSource;
import io.kv2pg.internal.rocksdb.WalTailer;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The write-ahead log from a sequence number on, each write batch routed to the mappings that
 * read it: the one tail-and-route loop body, shared by the engine's reader and by {@code
 * Verification}.
 *
 * <p>Concurrency: not thread-safe; the thread that creates it must be the one that uses and
 * closes it (the WAL decoder is bound to its thread).
 */
public final class RoutedLog implements AutoCloseable {
  private static final long IDLE_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

  private final WalBatchDecoder decoder;
  private final WalTailer tailer;
  private final ChangeRouter router;

  /** Opens the log at {@code from}, the first sequence number to read. */
  public RoutedLog(WalSource source, ChangeRouter router, long from) {
    this.router = router;
    this.decoder = new WalBatchDecoder();
    try {
      this.tailer = new WalTailer(source, decoder, from);
    } catch (RuntimeException e) {
      decoder.close();
      throw e;
    }
  }

  /** Returns the sequence number of the next write batch to read. */
  public long nextSequence() {
    return tailer.nextSequence();
  }

  /**
   * Returns the next write batch as changes of the mappings (possibly none), or {@code null},
   * after a pause of a millisecond, when the log holds nothing new yet.
   */
  public ChangeBatch poll() {
    WalBatch batch = tailer.poll();
    if (batch == null) {
      LockSupport.parkNanos(IDLE_NANOS);
      return null;
    }
    return router.route(batch);
  }

  @Override
  public void close() {
    try {
      tailer.close();
    } finally {
      decoder.close();
    }
  }
}
