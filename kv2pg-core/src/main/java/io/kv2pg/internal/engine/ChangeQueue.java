package io.kv2pg.internal.engine;

import io.kv2pg.ReplicationException;
import io.kv2pg.internal.change.ChangeBatch;
import java.util.ArrayDeque;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The bounded hand-over between the log reader and the Postgres writer. Bounded by memory, not by
 * count, so that a backlog of any size keeps memory flat; a single batch larger than the bound is
 * still admitted when the queue is empty, since batches are never split.
 *
 * <p>The reader ends the stream with {@link #finish()} or {@link #fail}; both take effect after the
 * batches already queued. {@link #abort()} wakes everyone at once. Thread-safe.
 */
public final class ChangeQueue {
  private final long maxWeight;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition notEmpty = lock.newCondition();
  private final Condition notFull = lock.newCondition();
  private final ArrayDeque<ChangeBatch> batches = new ArrayDeque<>();
  private long weight;
  private boolean finished;
  private ReplicationException failure;
  /** Volatile so that the reader can test it once per batch without taking the lock. */
  private volatile boolean aborted;

  public ChangeQueue(long maxWeight) {
    this.maxWeight = maxWeight;
  }

  /**
   * Adds a batch, waiting while the queue is full.
   *
   * @return {@code false} if the queue was aborted and the batch dropped
   */
  public boolean put(ChangeBatch batch) throws InterruptedException {
    lock.lockInterruptibly();
    try {
      while (!aborted && !batches.isEmpty() && weight + batch.weight() > maxWeight) {
        notFull.await();
      }
      if (aborted) {
        return false;
      }
      batches.addLast(batch);
      weight += batch.weight();
      notEmpty.signalAll();
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** Ends the stream after the queued batches. */
  public void finish() {
    lock.lock();
    try {
      finished = true;
      notEmpty.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Ends the stream after the queued batches with the reader's error. */
  public void fail(ReplicationException error) {
    lock.lock();
    try {
      failure = error;
      finished = true;
      notEmpty.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Drops everything and wakes every waiting thread. */
  public void abort() {
    lock.lock();
    try {
      aborted = true;
      batches.clear();
      weight = 0;
      notEmpty.signalAll();
      notFull.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Returns the weight (about the bytes) of the batches waiting to be applied; any thread. */
  public long weight() {
    lock.lock();
    try {
      return weight;
    } finally {
      lock.unlock();
    }
  }

  /** Returns whether {@link #abort()} was called. */
  public boolean isAborted() {
    return aborted;
  }

  /**
   * Takes the next batch, waiting up to {@code timeoutNanos}.
   *
   * @return the batch; {@code null} on timeout, at the end of the stream, or when aborted (tell
   *     them apart with {@link #isEnded()})
   * @throws ReplicationException the reader's error, once every batch before it was taken
   */
  public ChangeBatch take(long timeoutNanos) throws InterruptedException {
    lock.lockInterruptibly();
    try {
      long remaining = timeoutNanos;
      while (batches.isEmpty() && !finished && !aborted && remaining > 0) {
        remaining = notEmpty.awaitNanos(remaining);
      }
      return pollLocked();
    } finally {
      lock.unlock();
    }
  }

  /** Takes the next batch if one is there, without waiting; otherwise as {@link #take}. */
  public ChangeBatch poll() {
    lock.lock();
    try {
      return pollLocked();
    } finally {
      lock.unlock();
    }
  }

  private ChangeBatch pollLocked() {
    if (aborted) {
      return null;
    }
    ChangeBatch batch = batches.pollFirst();
    if (batch != null) {
      weight -= batch.weight();
      notFull.signalAll();
      return batch;
    }
    if (failure != null) {
      throw failure;
    }
    return null;
  }

  /** Returns whether the stream ended (finished or aborted) and every batch was taken. */
  public boolean isEnded() {
    lock.lock();
    try {
      return aborted || (finished && batches.isEmpty());
    } finally {
      lock.unlock();
    }
  }

}
