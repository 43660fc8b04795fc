package io.kv2pg.internal.engine;

import io.kv2pg.ReplicationException;
import io.kv2pg.ReplicationState;
import io.kv2pg.ReplicationStatus;
import io.kv2pg.RunningReplication;
import io.kv2pg.internal.rocksdb.SecondaryWalSource;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A followed replication whose mappings name column families that the store's owner has not
 * created yet: it waits for them, checking the store's MANIFEST once a second (a secondary
 * instance does not see families created after it opened, so the follower is opened only once they
 * all exist), then starts the replication and hands every call on to it. While it waits, the
 * status is {@code STARTING} and {@code waitingFor} names the missing families.
 *
 * <p>Concurrency: its thread ({@code kv2pg-<name>-families}) checks and starts; every public
 * method is thread-safe, guarded by this object's monitor.
 */
public final class FamilyWait implements RunningReplication {
  private static final Logger LOG = LoggerFactory.getLogger(FamilyWait.class);
  private static final long CHECK_MILLIS = 1_000;

  private final String name;
  private final Path storeDir;
  private final Set<String> needed;
  private final Supplier<RunningReplication> starter;
  private final Thread thread;
  private Set<String> missing;
  private RunningReplication started;
  private ReplicationException failure;
  private boolean stopping;

  private FamilyWait(String name, Path storeDir, Set<String> needed, Set<String> missing,
      Supplier<RunningReplication> starter) {
    this.name = name;
    this.storeDir = storeDir;
    this.needed = Set.copyOf(needed);
    this.missing = missing;
    this.starter = starter;
    this.thread = new Thread(this::run, "kv2pg-" + name + "-families");
    thread.setDaemon(true);
  }

  /**
   * Waits, on a thread of its own, until the store has every column family in {@code needed}, then
   * starts the replication with {@code starter}.
   */
  public static RunningReplication start(String name, Path storeDir, Set<String> needed, Set<String> missing,
      Supplier<RunningReplication> starter) {
    FamilyWait wait = new FamilyWait(name, storeDir, needed, new TreeSet<>(missing), starter);
    LOG.info("kv2pg[{}]: starting: waiting for the owner of {} to create column famil{} {}", name, storeDir,
        missing.size() == 1 ? "y" : "ies", missing);
    wait.thread.start();
    return wait;
  }

  private void run() {
    try {
      while (true) {
        synchronized (this) {
          if (stopping) {
            return;
          }
          wait(CHECK_MILLIS);
          if (stopping) {
            return;
          }
        }
        Set<String> stillMissing = new TreeSet<>(needed);
        stillMissing.removeAll(SecondaryWalSource.familyNames(storeDir));
        synchronized (this) {
          missing = stillMissing;
          if (!stillMissing.isEmpty()) {
            continue;
          }
        }
        LOG.info("kv2pg[{}]: the store at {} has every mapped column family now", name, storeDir);
        RunningReplication replication = starter.get();
        synchronized (this) {
          started = replication;
          notifyAll();
          if (stopping) {
            replication.stop(Duration.ZERO);
          }
        }
        return;
      }
    } catch (ReplicationException e) {
      LOG.error("kv2pg[{}]: failed: {}", name, e.getMessage(), e);
      synchronized (this) {
        failure = e;
        notifyAll();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The started replication, or {@code null} while waiting. */
  private synchronized RunningReplication started() {
    return started;
  }

  @Override
  public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
    if (timeout == null || timeout.isNegative()) {
      throw new IllegalArgumentException("timeout must not be null or negative");
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    RunningReplication replication;
    synchronized (this) {
      while (started == null && failure == null && !stopping) {
        long remaining = deadline - System.nanoTime();
        if (remaining <= 0) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(this, remaining);
      }
      replication = started;
    }
    return replication != null
        && replication.awaitCaughtUp(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
  }

  @Override
  public ReplicationStatus status() {
    synchronized (this) {
      if (started == null) {
        ReplicationState state = failure != null ? ReplicationState.FAILED
            : stopping ? ReplicationState.STOPPED : ReplicationState.STARTING;
        Optional<String> waitingFor = state != ReplicationState.STARTING ? Optional.empty()
            : Optional.of("column famil" + (missing.size() == 1 ? "y " : "ies ") + missing + ", which the store at "
                + storeDir + " does not have yet: waiting for its owner to create "
                + (missing.size() == 1 ? "it" : "them") + " (checked every second)");
        return new ReplicationStatus(name, state, 0, 0, 0, Optional.empty(), Optional.ofNullable(failure),
            waitingFor, Duration.ZERO, Optional.empty(), 0, 0, 0, 0, false, 0);
      }
    }
    return started().status();
  }

  @Override
  public void stop() {
    stop(DEFAULT_STOP_TIMEOUT);
  }

  @Override
  public void stop(Duration timeout) {
    RunningReplication replication = endWaiting(timeout);
    if (replication != null) {
      replication.stop(timeout);
    }
  }

  @Override
  public void stopAtNextCommit(Duration timeout) {
    RunningReplication replication = endWaiting(timeout);
    if (replication != null) {
      replication.stopAtNextCommit(timeout);
    }
  }

  /** Ends the wait, bounded by {@code timeout}; returns the replication if it was started. */
  private RunningReplication endWaiting(Duration timeout) {
    if (timeout == null || timeout.isNegative()) {
      throw new IllegalArgumentException("timeout must not be null or negative");
    }
    synchronized (this) {
      stopping = true;
      notifyAll();
    }
    if (Thread.currentThread() != thread) {
      Threads.joinUninterruptibly(thread, timeout.isZero() ? Duration.ofSeconds(1) : timeout, thread.getName());
    }
    return started();
  }

  @Override
  public void close() {
    stop();
  }

  @Override
  public String toString() {
    return "RunningReplication[" + name + ", " + status().state() + "]";
  }
}
