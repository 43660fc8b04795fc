package io.kv2pg;

import java.time.Duration;

/**
 * A replication that {@link Replication#start()} started: the initial copy and the streaming run on
 * kv2pg's own threads until {@link #stop()}.
 *
 * <p>All methods are thread-safe. Two ways to stop, both idempotent and bounded in time: {@link
 * #stop()} drains (applies what the store held when it was called), {@link #stopAtNextCommit}
 * does not (what is left is applied at the next start). Either way nothing is lost or applied
 * twice: the checkpoint commits with the rows.
 */
public interface RunningReplication extends AutoCloseable {
  /** How long {@link #stop()} waits for the drain before it cancels what Postgres is doing: 10 s. */
  Duration DEFAULT_STOP_TIMEOUT = Duration.ofSeconds(10);

  /**
   * Waits until Postgres holds every write that the store had when this call began.
   *
   * @param timeout how long to wait at most; must not be negative
   * @return {@code true} once caught up; {@code false} on timeout, or when the replication stopped
   *     or failed before catching up
   * @throws InterruptedException if the calling thread is interrupted while waiting
   */
  boolean awaitCaughtUp(Duration timeout) throws InterruptedException;

  /** Returns an immutable snapshot of the replication's progress; never blocks on I/O. */
  ReplicationStatus status();

  /**
   * Stops the replication: applies and commits what the store held when the call began (unless the
   * replication is still in its initial copy, which stops at the next chunk and resumes at the next
   * start), then closes kv2pg's connection and threads. Returns once they have ended.
   *
   * <p>Idempotent. Never throws because of the replication's state: a failure stays readable
   * through {@link #status()}. If Postgres is unreachable while draining, the rest is left for the
   * next start (nothing is lost: it is still in the store's log). If the calling thread is
   * interrupted while waiting, the interrupt flag is kept and the method returns early.
   *
   * <p>Same as {@link #stop(Duration) stop(DEFAULT_STOP_TIMEOUT)}.
   */
  void stop();

  /**
   * Stops the replication like {@link #stop()}, waiting at most {@code timeout} for the drain.
   * After that, whatever Postgres is doing (a statement blocked by another session's lock, a slow
   * commit) is cancelled and kv2pg's server process ended, so that its lock is free for the next
   * start; what was not committed is applied then, from the store's log. Returns within about
   * {@code timeout} plus 10 s whatever Postgres does.
   *
   * @param timeout how long to let the drain run; must not be null or negative
   * @throws IllegalArgumentException if {@code timeout} is null or negative
   */
  void stop(Duration timeout);

  /**
   * Stops the replication at its next commit, without draining: the transaction being applied, if
   * any, commits, and no later one starts (an initial copy stops at its next chunk, as with {@link
   * #stop()}). What the store holds beyond that point is left in its log and applied at the next
   * start; {@link #status()} then shows the applied sequence and the {@linkplain
   * ReplicationStatus#sequenceLag() lag}. Use it to end promptly (an interrupt, a time limit) when
   * the backlog may be large; {@link #stop()} applies it all first.
   *
   * <p>Otherwise like {@link #stop(Duration)}: waits at most {@code timeout} for that commit, then
   * cancels what Postgres is doing and ends kv2pg's server process; returns once kv2pg's threads
   * have ended (within about {@code timeout} plus 10 s whatever Postgres does); idempotent; never
   * throws because of the replication's state; keeps the interrupt flag if interrupted while
   * waiting. Called after {@link #stop()} (from another thread, while the drain runs), it cuts the
   * drain short at the next commit; {@link #stop()} after it does not extend it.
   *
   * @param timeout how long to wait for the commit in progress; must not be null or negative
   * @throws IllegalArgumentException if {@code timeout} is null or negative
   */
  void stopAtNextCommit(Duration timeout);

  /** Same as {@link #stop()}. */
  @Override
  void close();
}
