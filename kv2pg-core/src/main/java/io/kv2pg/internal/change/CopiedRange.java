package io.kv2pg.internal.change;

import java.util.Arrays;

/**
 * The keys of one mapping that this run's initial copy reads from a snapshot: every key after
 * {@code copiedAfter} (all keys when it is {@code null}), as of {@code snapshotSequence}. Writes to
 * those keys at or before the snapshot are already in the copy, so the stream leaves them out
 * instead of replaying older values over newer ones.
 */
public record CopiedRange(long snapshotSequence, byte[] copiedAfter) {

  /**
   * Returns what of the change the copy does not already contain: the change itself, a range
   * delete clipped to the keys copied from older snapshots, or {@code null} for nothing.
   */
  public Change remainder(Change change) {
    if (change.sequence() > snapshotSequence) {
      return change;
    }
    if (copiedAfter == null) {
      return null;
    }
    if (!change.isRangeDelete()) {
      return Arrays.compareUnsigned(change.key(), copiedAfter) > 0 ? null : change;
    }
    byte[] limit = KeyRanges.successor(copiedAfter);
    byte[] end = change.rangeEnd();
    if (end == null || Arrays.compareUnsigned(end, limit) > 0) {
      end = limit;
    }
    return Arrays.compareUnsigned(change.key(), end) >= 0
        ? null : Change.deleteRange(change.route(), change.key(), end, change.sequence());
  }
}
