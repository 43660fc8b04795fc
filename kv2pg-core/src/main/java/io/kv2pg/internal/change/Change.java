package io.kv2pg.internal.change;

/**
 * One row-level change for one tree mapping.
 *
 * @param route the tree mapping the change is for
 * @param kind what the change does
 * @param key the whole key, prefix included (a range's first key for {@link Kind#DELETE_RANGE})
 * @param value the new value for {@link Kind#UPSERT}; the range's end (exclusive, {@code null}
 *     for no end) for {@link Kind#DELETE_RANGE}; {@code null} for {@link Kind#DELETE}
 * @param sequence the RocksDB sequence number of the write (the snapshot's, for the initial copy)
 */
public record Change(Route route, Kind kind, byte[] key, byte[] value, long sequence) {

  /** What a change does. */
  public enum Kind {
    UPSERT, DELETE, DELETE_RANGE
  }

  /** Creates an upsert, or a delete when {@code value} is {@code null}. */
  public Change(Route route, byte[] key, byte[] value, long sequence) {
    this(route, value == null ? Kind.DELETE : Kind.UPSERT, key, value, sequence);
  }

  /** Creates the removal of every key from {@code begin} (inclusive) to {@code end} (exclusive). */
  public static Change deleteRange(Route route, byte[] begin, byte[] end, long sequence) {
    return new Change(route, Kind.DELETE_RANGE, begin, end, sequence);
  }

  /** Returns whether the key was removed. */
  public boolean isDelete() {
    return kind == Kind.DELETE;
  }

  /** Returns whether the change removes a range of keys. */
  public boolean isRangeDelete() {
    return kind == Kind.DELETE_RANGE;
  }

  /** Returns the end (exclusive) of a range delete, or {@code null} for no end. */
  public byte[] rangeEnd() {
    return kind == Kind.DELETE_RANGE ? value : null;
  }

  /** Returns the approximate memory the change holds, for queue bounds. */
  public long weight() {
    return 64L + key.length + (value == null ? 0 : value.length);
  }
}
