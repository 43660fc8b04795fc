package io.kv2pg.internal.rocksdb;

import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.Snapshot;
import org.rocksdb.TransactionLogIterator;

/**
 * Where changes come from. An in-process database and a followed secondary instance differ only in
 * how they are opened and polled; everything above this interface is the same for both.
 */
public interface WalSource extends AutoCloseable {

  /** Returns the database, for snapshot reads. */
  RocksDB database();

  /**
   * Takes a snapshot of the database, for the initial copy or a verification; release it with
   * {@code database().releaseSnapshot}, and read it with {@link SnapshotReads#readOptions}.
   */
  default Snapshot snapshot() {
    return database().getSnapshot();
  }

  /** Makes the latest writes visible before a poll (a secondary catches up with its primary). */
  void refresh() throws RocksDBException;

  /** Returns the latest sequence number the database has; a cheap atomic read. */
  long latestSequence();

  /**
   * Returns the sequence number of the last write made to the store before this call, or -1 if it
   * cannot be known yet (a followed store while a snapshot is read); may catch up with a primary.
   * Any thread.
   */
  default long writesSoFar() {
    return latestSequence();
  }

  /** Opens a log iterator at the batch that holds {@code sequence}, or the first one after it. */
  TransactionLogIterator updatesSince(long sequence) throws RocksDBException;

  /** Describes the source for messages, such as the database folder. */
  String describe();

  /**
   * Releases what kv2pg opened for this source, once nothing reads it any more: a followed store's
   * secondary instance. An application's own database stays open.
   */
  @Override
  default void close() {}
}
