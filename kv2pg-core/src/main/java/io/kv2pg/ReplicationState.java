package io.kv2pg;

/** Where a running replication is in its life. */
public enum ReplicationState {
  /** Connecting to Postgres, creating tables, reading the checkpoint. */
  STARTING,
  /** Copying the entries of newly mapped trees from a snapshot of the store. */
  COPYING,
  /** Applying the store's write-ahead log as it grows. */
  STREAMING,
  /** Stopped by {@link RunningReplication#stop()}; everything committed stays committed. */
  STOPPED,
  /** Stopped by an error; {@link ReplicationStatus#failure()} says which and what to do. */
  FAILED
}
