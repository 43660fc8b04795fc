package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;

/** Bounded waits for tests: each polls (never sleeps blindly) and fails clearly at its deadline. */
final class Await {
  private Await() {}

  /**
   * Polls {@code running.status()} until {@code reached} accepts it, and returns that status; fails
   * after {@code timeout} naming {@code what} and the last status. {@code reached} may itself fail
   * early (for a state that can no longer lead to the one awaited).
   */
  static ReplicationStatus status(RunningReplication running, Duration timeout, String what,
      Predicate<ReplicationStatus> reached) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      ReplicationStatus status = running.status();
      if (reached.test(status)) {
        return status;
      }
      if (System.nanoTime() - deadline > 0) {
        fail("timed out after " + timeout + " waiting for " + what + "; last status: " + status);
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    }
  }

  /** Waits until the replication is in {@code state}, and returns that status. */
  static ReplicationStatus state(RunningReplication running, Duration timeout, ReplicationState state) {
    return status(running, timeout, "state " + state, status -> status.state() == state);
  }

  /**
   * Waits for the replication to fail, then for its threads to end (so that the failure is also
   * recorded in Postgres), and returns its failure.
   */
  static ReplicationException failure(RunningReplication running, Duration timeout) {
    state(running, timeout, ReplicationState.FAILED);
    running.stop();
    ReplicationStatus status = running.status();
    assertThat(status.state()).isEqualTo(ReplicationState.FAILED);
    assertThat(status.failure()).as("failure of %s", status).isPresent();
    return status.failure().get();
  }

  /** Asserts that the replication catches up within {@code timeout}, naming {@code context} and its status if not. */
  static void caughtUp(RunningReplication running, Duration timeout, String context) throws InterruptedException {
    boolean caughtUp = running.awaitCaughtUp(timeout);
    assertThat(caughtUp).as(context + ": awaitCaughtUp, status " + running.status()).isTrue();
  }

  /** Polls {@code condition} (e.g. a Postgres query) until it holds; fails after {@code timeout} naming {@code what}. */
  static void condition(Duration timeout, String what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - deadline > 0) {
        fail("timed out after " + timeout + " waiting until " + what);
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
    }
  }
}
