package io.kv2pg;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * An immutable snapshot of a running replication's progress.
 *
 * @param name the replication's name
 * @param state where the replication is in its life
 * @param appliedSequence the last RocksDB sequence number whose effects Postgres holds, committed
 *     together with them; 0 until the first commit is known
 * @param sourceSequence the store's latest sequence number when the status was taken
 * @param rowsApplied row writes (upserts and deletes, after per-key coalescing) committed by this
 *     run, initial copy included
 * @param lastCommit when this run last committed a transaction, if it has
 * @param failure the error that stopped the replication, present exactly when the state is {@link
 *     ReplicationState#FAILED}
 * @param waitingFor what the replication waits for when it cannot make progress by itself, such
 *     as "Postgres unreachable: ... (attempt 7, next in 4 s)" while it retries, or "statement on
 *     shop.orders blocked by a lock held by server process 4711, running for 12 s"; empty while it
 *     makes progress or has nothing to do
 */
public record ReplicationStatus(
    String name,
    ReplicationState state,
    long appliedSequence,
    long sourceSequence,
    long rowsApplied,
    Optional<Instant> lastCommit,
    Optional<ReplicationException> failure,
    Optional<String> waitingFor) {

  public ReplicationStatus {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(lastCommit, "lastCommit");
    Objects.requireNonNull(failure, "failure");
    Objects.requireNonNull(waitingFor, "waitingFor");
  }

  /** Returns how many sequence numbers the store is ahead of Postgres (never negative). */
  public long sequenceLag() {
    return Math.max(0, sourceSequence - appliedSequence);
  }
}
