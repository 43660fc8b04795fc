package io.kv2pg;

import java.util.List;
import java.util.Objects;

/**
 * What {@link Replication#retryDeadLetters()} did: how many dead letters applied cleanly (and were
 * removed), and those that failed again (with their new error), which stay. Immutable.
 *
 * @param retried the dead letters that now apply, each applied and removed in a transaction of its own
 * @param remaining the dead letters that failed again, as recorded now
 */
public record DeadLetterRetry(int retried, List<DeadLetter> remaining) {
  public DeadLetterRetry {
    remaining = List.copyOf(Objects.requireNonNull(remaining, "remaining"));
  }

  /** Returns whether no dead letter remains. */
  public boolean isClean() {
    return remaining.isEmpty();
  }
}
