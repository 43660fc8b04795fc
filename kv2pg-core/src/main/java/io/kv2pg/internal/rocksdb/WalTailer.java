package io.kv2pg.internal.rocksdb;

import io.kv2pg.ReplicationException;
import io.kv2pg.SequenceGapException;
import java.util.ArrayList;
import java.util.List;
import org.rocksdb.RocksDBException;
import org.rocksdb.Status;
import org.rocksdb.TransactionLogIterator;
import org.rocksdb.WriteBatch;

/**
 * Reads the write-ahead log in order from a given sequence number, batch by batch, and checks that
 * no sequence number is missing.
 *
 * <p>The log iterator is kept open while tailing, because building one scans the WAL files; it is
 * rebuilt only when RocksDB says so ({@code TryAgain}, after a WAL file rotation). Every batch must
 * start where the previous one ended: anything else is a gap (purged WAL, {@code disableWAL}
 * writes, file ingestion) and fails with a {@link SequenceGapException}, never silently skipped.
 *
 * <p>Not thread-safe: use from one thread, the same that created the decoder.
 */
public final class WalTailer implements AutoCloseable {
  /** How long the store may claim sequence numbers that its log does not show. */
  private static final long GAP_CONFIRM_NANOS = 1_000_000_000L;
  /** How often, at most, the iterator is rebuilt while such numbers are missing. */
  private static final long REBUILD_INTERVAL_NANOS = 50_000_000L;

  private final WalSource source;
  private final WalBatchDecoder decoder;
  private TransactionLogIterator iterator;
  private long nextSequence;
  private long missingSinceNanos = -1;
  private long lastRebuildNanos;
  private boolean firstAfterBuild;
  private boolean builtWhileIdle;
  /** The iterator still stands on the batch last returned: step it once records are known to follow. */
  private boolean stepPending;

  /**
   * Creates a tailer that will return the batches from {@code nextSequence} on.
   *
   * @param decoder a decoder created on the calling thread
   */
  public WalTailer(WalSource source, WalBatchDecoder decoder, long nextSequence) {
    this.source = source;
    this.decoder = decoder;
    this.nextSequence = nextSequence;
  }

  /** Returns the next sequence number this tailer expects; everything before it was returned. */
  public long nextSequence() {
    return nextSequence;
  }

  /**
   * Returns the next batch, or {@code null} when the log holds nothing new yet.
   *
   * @throws SequenceGapException if sequence numbers are missing from the log
   * @throws ReplicationException if RocksDB fails to read the log
   */
  public WalBatch poll() {
    try {
      source.refresh();
      if (stepPending) {
        // Step only onto records the store says it has. Stepping at the log's end races with the
        // next write (RocksDB then answers TryAgain, and only a new iterator, which reads the WAL
        // file from its start, goes on): at 20,000 writes/s that cost tens of milliseconds of lag.
        if (source.latestSequence() < nextSequence) {
          missingSinceNanos = -1;
          return null;
        }
        stepPending = false;
        iterator.next();
      }
      if (iterator == null || !iterator.isValid()) {
        if (source.latestSequence() < nextSequence) {
          missingSinceNanos = -1;
          buildWhileIdle();
          return null;
        }
        if (!advanceToNewRecords()) {
          return null;
        }
      }
      return consume();
    } catch (RocksDBException e) {
      throw new ReplicationException(ReplicationException.Kind.STORE,
          "RocksDB failed to read the write-ahead log of " + source.describe() + " at sequence "
              + nextSequence + ": " + e.getMessage()
              + ". The replication resumes from its last commit when restarted.",
          e, null, null, null, nextSequence);
    }
  }

  /**
   * Builds the iterator, once, while the log has nothing new, on the last batch already returned,
   * to be stepped past it when new records arrive. Building one reads the current WAL file from its
   * start (a quarter of a second after a million writes, measured here); built lazily, that read
   * would delay the first write after a start and, in a busy store, compete with the writes that
   * follow it.
   */
  private void buildWhileIdle() throws RocksDBException {
    if (iterator != null || builtWhileIdle || nextSequence <= 1) {
      return;
    }
    builtWhileIdle = true;
    long last = nextSequence - 1;
    TransactionLogIterator idle;
    try {
      idle = source.updatesSince(last);
    } catch (RocksDBException e) {
      // The last batch's log is gone (purged while nothing was written): poll() builds the
      // iterator when new records arrive, and reports any gap with its range then.
      return;
    }
    if (!idle.isValid()) {
      idle.close();
      return;
    }
    TransactionLogIterator.BatchResult overlap = idle.getBatch();
    long overlapEnd;
    try (WriteBatch batch = overlap.writeBatch()) {
      overlapEnd = overlap.sequenceNumber() + batch.count() - 1;
    }
    if (overlap.sequenceNumber() > last || overlapEnd != last) {
      idle.close(); // Not exactly on the last batch returned: leave it to the lazy build.
      return;
    }
    iterator = idle;
    stepPending = true;
    lastRebuildNanos = System.nanoTime();
    firstAfterBuild = false;
  }

  /** Moves the iterator onto records the store says it has; false if they cannot be seen yet. */
  private boolean advanceToNewRecords() throws RocksDBException {
    // A kept iterator that stopped on an error is rebuilt rather than trusted: RocksDB's own
    // "Gap in sequence numbers" lands here, and a fresh iterator lets consume() name the range.
    if (iterator != null && hasOkStatus(iterator)) {
      iterator.next(); // Picks up records appended to the same WAL file; cheap.
      if (iterator.isValid()) {
        return true;
      }
    }
    long now = System.nanoTime();
    if (iterator != null && now - lastRebuildNanos < REBUILD_INTERVAL_NANOS && missingSinceNanos >= 0) {
      return false;
    }
    closeIterator();
    lastRebuildNanos = now;
    iterator = source.updatesSince(nextSequence);
    firstAfterBuild = true;
    if (iterator.isValid()) {
      return true;
    }
    statusIsOk(iterator);
    // The store's latest sequence is ahead of what its log shows. Writes are logged before the
    // latest sequence moves, so beyond a short race this means writes that bypassed the WAL.
    if (missingSinceNanos < 0) {
      missingSinceNanos = now;
    } else if (now - missingSinceNanos > GAP_CONFIRM_NANOS) {
      long latest = source.latestSequence();
      throw gap(nextSequence, latest, "the store's latest sequence is " + latest
          + " but its write-ahead log ends before " + nextSequence);
    }
    return false;
  }

  private static boolean hasOkStatus(TransactionLogIterator iterator) {
    try {
      iterator.status();
      return true;
    } catch (RocksDBException e) {
      return false;
    }
  }

  private static boolean statusIsOk(TransactionLogIterator iterator) throws RocksDBException {
    try {
      iterator.status();
      return true;
    } catch (RocksDBException e) {
      Status status = e.getStatus();
      if (status != null && status.getCode() == Status.Code.TryAgain) {
        return false;
      }
      throw e;
    }
  }

  private WalBatch consume() throws RocksDBException {
    TransactionLogIterator.BatchResult result = iterator.getBatch();
    long sequence = result.sequenceNumber();
    int count;
    List<WalRecord> records;
    try (WriteBatch batch = result.writeBatch()) {
      records = decoder.decode(batch, sequence);
      count = decoder.lastCount();
    }
    stepPending = true;
    missingSinceNanos = -1;
    if (sequence > nextSequence) {
      throw gap(nextSequence, sequence - 1, "the next batch in the write-ahead log starts at "
          + sequence);
    }
    boolean first = firstAfterBuild;
    firstAfterBuild = false;
    if (sequence < nextSequence && !first) {
      throw new ReplicationException(ReplicationException.Kind.STORE, "The write-ahead log of " + source.describe() + " holds a"
          + " batch at sequence " + sequence + " that overlaps the previous one (which ended before "
          + nextSequence + "). kv2pg needs one sequence number per record, as plain RocksDB,"
          + " write-committed TransactionDB and OptimisticTransactionDB give; WritePrepared or"
          + " WriteUnprepared transactions (seq_per_batch) are not supported.", null, null, null,
          null, sequence);
    }
    if (sequence < nextSequence) {
      // A new iterator starts at the whole batch that holds the requested sequence number; drop
      // what was already returned.
      List<WalRecord> fresh = new ArrayList<>(records.size());
      for (WalRecord record : records) {
        if (record.sequence() >= nextSequence) {
          fresh.add(record);
        }
      }
      records = fresh;
    }
    long end = sequence + count;
    WalBatch batch = new WalBatch(Math.max(sequence, nextSequence),
        (int) Math.max(0, end - Math.max(sequence, nextSequence)), records);
    nextSequence = Math.max(nextSequence, end);
    return batch;
  }

  private SequenceGapException gap(long first, long last, String detail) {
    return new SequenceGapException(
        "Sequence numbers " + first + " to " + last + " of " + source.describe()
            + " are missing from the write-ahead log (" + detail + "). Their writes were purged"
            + " before kv2pg read them, made with disableWAL, or came from ingested files, so"
            + " kv2pg cannot know which rows they changed. Re-copy every mapping: stop the"
            + " replication, run 'kv2pg reset --config FILE' (or call ReplicationRecords.reset(name)),"
            + " and start again; or let the replication do it with Replication.Builder.onGap(OnGap.RECOPY)"
            + " ('on-gap: recopy' in YAML). Keep WAL files long enough (DBOptions.setWalTtlSeconds) for"
            + " kv2pg to read them.",
        first, last);
  }

  private void closeIterator() {
    stepPending = false;
    if (iterator != null) {
      iterator.close();
      iterator = null;
    }
  }

  @Override
  public void close() {
    closeIterator();
  }
}
