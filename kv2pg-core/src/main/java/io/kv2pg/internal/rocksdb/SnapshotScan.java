package io.kv2pg.internal.rocksdb;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksIterator;
import org.rocksdb.Snapshot;

/**
 * Reads the entries of one tree and key prefix from a snapshot, in key order and in chunks, from
 * the key after a given one. Not thread-safe.
 */
public final class SnapshotScan implements AutoCloseable {
  /** One stored entry. */
  public record Entry(byte[] key, byte[] value) {}

  private final RocksDB database;
  private final ReadOptions readOptions;
  private final RocksIterator iterator;
  private final byte[] prefix;

  /**
   * Opens a scan.
   *
   * @param resumeAfter the last key already read, or {@code null} to start at the prefix
   */
  public SnapshotScan(RocksDB database, ColumnFamilyHandle family, Snapshot snapshot, byte[] prefix,
      byte[] resumeAfter) {
    this.database = database;
    this.prefix = prefix;
    StoreClosed.check(database);
    this.readOptions = SnapshotReads.readOptions(database, snapshot).setFillCache(false);
    this.iterator = database.newIterator(family, readOptions);
    if (resumeAfter == null) {
      iterator.seek(prefix);
    } else {
      iterator.seek(resumeAfter);
      if (iterator.isValid() && Arrays.equals(iterator.key(), resumeAfter)) {
        iterator.next();
      }
    }
  }

  /** Returns up to {@code maxRows} entries, fewer past {@code maxBytes}; empty at the end. */
  public List<Entry> next(int maxRows, long maxBytes) {
    StoreClosed.check(database);
    List<Entry> entries = new ArrayList<>(Math.min(maxRows, 1024));
    long bytes = 0;
    while (entries.size() < maxRows && bytes < maxBytes && iterator.isValid()) {
      byte[] key = iterator.key();
      if (!startsWith(key, prefix)) {
        break;
      }
      byte[] value = iterator.value();
      entries.add(new Entry(key, value));
      bytes += key.length + value.length;
      iterator.next();
    }
    if (!iterator.isValid()) {
      try {
        iterator.status();
      } catch (org.rocksdb.RocksDBException e) {
        throw new IllegalStateException("RocksDB failed while reading a snapshot: " + e.getMessage(), e);
      }
    }
    return entries;
  }

  /** Returns whether the scan has read every entry of the prefix. */
  public boolean atEnd() {
    StoreClosed.check(database);
    return !iterator.isValid() || !startsWith(iterator.key(), prefix);
  }

  /** Returns whether {@code key} starts with {@code prefix}. */
  public static boolean startsWith(byte[] key, byte[] prefix) {
    return key.length >= prefix.length
        && Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length);
  }

  @Override
  public void close() {
    iterator.close();
    readOptions.close();
  }
}
