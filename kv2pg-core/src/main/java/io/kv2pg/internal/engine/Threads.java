package io.kv2pg.internal.engine;

import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Thread helpers for kv2pg's own threads. */
final class Threads {
  private static final Logger LOG = LoggerFactory.getLogger(Threads.class);

  private Threads() {}

  /**
   * Waits up to {@code timeout} for the thread to end even if the caller is interrupted meanwhile
   * (the thread holds native resources the caller is about to release), then restores the
   * caller's interrupt flag. Logs a warning, naming the replication, if the thread is still alive.
   *
   * @return whether the thread ended
   */
  static boolean joinUninterruptibly(Thread thread, Duration timeout, String logName) {
    long deadline = System.nanoTime() + timeout.toNanos();
    boolean interrupted = false;
    while (thread.isAlive()) {
      long remainingMillis = (deadline - System.nanoTime()) / 1_000_000;
      if (remainingMillis <= 0) {
        LOG.warn("kv2pg[{}]: thread {} did not end within {} s", logName, thread.getName(), timeout.toSeconds());
        break;
      }
      try {
        thread.join(remainingMillis);
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    return !thread.isAlive();
  }
}
