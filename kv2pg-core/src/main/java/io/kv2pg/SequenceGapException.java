package io.kv2pg;

/**
 * The write-ahead log does not hold every sequence number the replication needs: WAL files were
 * deleted before kv2pg read them, writes were made with {@code disableWAL}, or files were
 * ingested. kv2pg never skips such a gap, because the rows it would have changed are unknown.
 */
public final class SequenceGapException extends ReplicationException {
  private static final long serialVersionUID = 1L;

  private final long firstMissing;
  private final long lastMissing;

  public SequenceGapException(String message, long firstMissing, long lastMissing) {
    super(Kind.SEQUENCE_GAP, message, null, null, null, null, firstMissing);
    this.firstMissing = firstMissing;
    this.lastMissing = lastMissing;
  }

  /** Returns the first sequence number that is missing. */
  public long firstMissing() {
    return firstMissing;
  }

  /** Returns the last sequence number that is missing (inclusive). */
  public long lastMissing() {
    return lastMissing;
  }
}
