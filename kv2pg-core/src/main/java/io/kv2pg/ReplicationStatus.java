package io.kv2pg;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * An immutable snapshot of a running replication's progress. Counts are for this run: they start
 * at zero when {@link Replication#start()} returns.
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
 * @param lag how long the oldest write that Postgres does not hold yet has been waiting, measured
 *     from when kv2pg first saw it in the store (RocksDB records no time of writing; kv2pg reads the
 *     log continuously; writes already in the log at start, and the entries an initial copy copies, count
 *     from the start); {@link
 *     Duration#ZERO} when caught up
 * @param copyProgress the initial copy under way, while the state is {@link
 *     ReplicationState#COPYING} and a mapping is being copied
 * @param commits transactions committed by this run (copy chunks included)
 * @param retries attempts that Postgres failed in a way that kv2pg retries (lost connection,
 *     restart, serialization failure, deadlock, a limit), counted by this run
 * @param deadlocks the attempts among {@code retries} that Postgres ended as a deadlock (SQLSTATE
 *     40P01): a transaction of this run and another one (another replication writing the same
 *     table, a repair, the application) each waited for a row the other had locked. kv2pg writes
 *     the rows of each statement in key order, so its own transactions do not deadlock with each
 *     other; a count that keeps growing points at another writer that locks rows in another order
 * @param deadLetters changes set aside by this run because of their data
 * @param stalled whether the replication is behind and has committed nothing for longer than
 *     {@link Replication.Builder#stallAfter(java.time.Duration)}; {@link #waitingFor()} usually
 *     says why
 * @param gapsRecopied gaps in the write-ahead log that this run re-copied every mapping for
 *     ({@link OnGap#RECOPY}); the database counts them over all runs
 */
public record ReplicationStatus(
    String name,
    ReplicationState state,
    long appliedSequence,
    long sourceSequence,
    long rowsApplied,
    Optional<Instant> lastCommit,
    Optional<ReplicationException> failure,
    Optional<String> waitingFor,
    Duration lag,
    Optional<CopyProgress> copyProgress,
    long commits,
    long retries,
    long deadlocks,
    long deadLetters,
    boolean stalled,
    long gapsRecopied) {

  public ReplicationStatus {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(lastCommit, "lastCommit");
    Objects.requireNonNull(failure, "failure");
    Objects.requireNonNull(waitingFor, "waitingFor");
    Objects.requireNonNull(lag, "lag");
    Objects.requireNonNull(copyProgress, "copyProgress");
  }

  /** Returns how many sequence numbers the store is ahead of Postgres (never negative). */
  public long sequenceLag() {
    return Math.max(0, sourceSequence - appliedSequence);
  }

  /**
   * The initial copy of one mapping, as far as it got.
   *
   * @param mapping the mapping being copied
   * @param rowsCopied rows of the mapping committed so far, by this run and by an interrupted one
   *     that it resumes
   * @param estimatedRows an estimate of the rows the copy ends with: RocksDB's estimate of the keys
   *     in the mapping's tree (which counts the whole tree for a prefix mapping), never below
   *     {@code rowsCopied}
   */
  public record CopyProgress(String mapping, long rowsCopied, long estimatedRows) {
    public CopyProgress {
      Objects.requireNonNull(mapping, "mapping");
    }

    /** Returns how much of the estimate is copied, from 0 to 1. */
    public double fraction() {
      return estimatedRows == 0 ? 1.0 : Math.min(1.0, (double) rowsCopied / estimatedRows);
    }
  }
}
