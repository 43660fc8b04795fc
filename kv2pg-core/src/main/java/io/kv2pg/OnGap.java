package io.kv2pg;

/**
 * What a replication does when the store's write-ahead log lacks sequence numbers it needs: WAL
 * files were deleted before kv2pg read them (while it was stopped or behind), writes were made
 * with {@code disableWAL}, or files were ingested. kv2pg cannot know which rows such writes
 * changed. Set with {@link Replication.Builder#onGap(OnGap)}.
 */
public enum OnGap {
  /**
   * Fail (the default): the replication stops in state {@link ReplicationState#FAILED} with a
   * {@link SequenceGapException} naming the missing range; everything before the gap is
   * committed. Recover with {@link ReplicationRecords#reset(String)} (or {@code kv2pg reset}),
   * after which the next start copies every mapping again.
   */
  FAIL,

  /**
   * Copy every mapping again from a new store snapshot, then stream on from that snapshot: the
   * tables' rows are replaced in one transaction (readers see the old rows until it commits; rows
   * whose keys left the store are removed; deferred foreign keys are checked at the commit). The
   * gap and its range are logged at {@code WARN}, counted in {@link
   * ReplicationStatus#gapsRecopied()} and the {@code kv2pg.gaps.recopied} meter, and recorded in
   * the database. Statement mappings need {@link TreeMapping.Builder#clear(String)}.
   */
  RECOPY
}
