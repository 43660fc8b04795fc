package io.kv2pg.internal.rocksdb;

import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.TransactionLogIterator;

/**
 * Where changes come from. An in-process database and a followed secondary instance differ only in
 * how they are opened and polled; everything above this interface is the same for both.
 */
public interface WalSource {

  /** Returns the database, for snapshot reads. */
  RocksDB database();

  /** Makes the latest writes visible before a poll (a secondary catches up with its primary). */
  void refresh() throws RocksDBException;

  /** Returns the latest sequence number the database has; a cheap atomic read. */
  long latestSequence();

  /** Opens a log iterator at the batch that holds {@code sequence}, or the first one after it. */
  TransactionLogIterator updatesSince(long sequence) throws RocksDBException;

  /** Describes the source for messages, such as the database folder. */
  String describe();
}
