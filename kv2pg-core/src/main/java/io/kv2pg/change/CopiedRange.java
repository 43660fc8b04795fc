package io.kv2pg.change;

import java.util.Arrays;

/**
 * The keys of one mapping that this run's initial copy reads from a snapshot: every key after
 * {@code copiedAfter} (all keys when it is {@code null}), as of {@code snapshotSequence}. Writes to
 * those keys at or before the snapshot are already in the copy, so the stream leaves them out
 * instead of replaying older values over newer ones.
 */
public record CopiedRange(long snapshotSequence, byte[] copiedAfter) {

  /** Returns whether the change is already contained in the copy. */
  public boolean contains(Change change) {
    return change.sequence() <= snapshotSequence
        && (copiedAfter == null || Arrays.compareUnsigned(change.key(), copiedAfter) > 0);
  }
}
