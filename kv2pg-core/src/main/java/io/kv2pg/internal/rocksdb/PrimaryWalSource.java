package io.kv2pg.internal.rocksdb;

import java.util.Objects;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.TransactionLogIterator;

/** A database that this process opened and writes to itself. */
public final class PrimaryWalSource implements WalSource {
  private final RocksDB database;

  public PrimaryWalSource(RocksDB database) {
    this.database = Objects.requireNonNull(database, "database");
  }

  @Override
  public RocksDB database() {
    return database;
  }

  @Override
  public void refresh() {
    // The primary's own writes are visible at once.
  }

  @Override
  public long latestSequence() {
    StoreClosed.check(database);
    return database.getLatestSequenceNumber();
  }

  @Override
  public TransactionLogIterator updatesSince(long sequence) throws RocksDBException {
    StoreClosed.check(database);
    return database.getUpdatesSince(sequence);
  }

  @Override
  public String describe() {
    return database.getName();
  }
}
