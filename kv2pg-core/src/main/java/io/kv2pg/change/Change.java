package io.kv2pg.change;

/**
 * One row-level change for one tree mapping: the key now holds {@code value}, or no longer exists.
 *
 * @param mapping the index of the tree mapping, in the replication's order
 * @param key the whole key, prefix included
 * @param value the new value, or {@code null} for a delete
 * @param sequence the RocksDB sequence number of the write (the snapshot's, for the initial copy)
 */
public record Change(int mapping, byte[] key, byte[] value, long sequence) {

  /** Returns whether the key was removed. */
  public boolean isDelete() {
    return value == null;
  }

  /** Returns the approximate memory the change holds, for queue bounds. */
  public long weight() {
    return 64L + key.length + (value == null ? 0 : value.length);
  }
}
