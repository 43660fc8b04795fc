package io.kv2pg;

import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * What a database records about one replication name, as {@link ReplicationRecords} read it: its
 * checkpoint, the epoch of the runner that last claimed it, the failure it last stopped on, and
 * the initial-copy state of each mapping.
 *
 * <p>A record is a copy taken in one Postgres snapshot; it does not change when the replication
 * goes on. Immutable and thread-safe; no component is {@code null} (the constructor throws {@link
 * NullPointerException} for one) and {@code copies} is an unmodifiable copy.
 *
 * @param name the replication's name
 * @param appliedSequence the last RocksDB sequence number whose effects Postgres holds, committed
 *     together with them; empty if the replication was claimed but has not committed yet
 * @param committedAt when the checkpoint was last committed, if it was
 * @param epoch the fencing token of the runner that last claimed the replication (every runner
 *     that starts increments it); 0 for a row written by a version without epochs
 * @param failure the message of the error the replication last stopped on, if it has not
 *     committed since; kv2pg writes it with every password masked
 * @param failedAt when that failure was recorded, if one is
 * @param running whether a runner held the replication's lock when the record was read (it may
 *     have stopped since)
 * @param copies the initial-copy state of every mapping that has one, ordered by mapping name; a
 *     mapping missing here is copied at the next start
 * @param gapsRecopied how many write-ahead log gaps the replication re-copied, over all its runs
 *     ({@link OnGap#RECOPY})
 * @param deadLetters how many changes are set aside now ({@link OnDataError#DEAD_LETTER}); {@link
 *     ReplicationRecords#deadLetters(String)} lists them
 */
public record ReplicationRecord(
    String name,
    OptionalLong appliedSequence,
    Optional<Instant> committedAt,
    long epoch,
    Optional<String> failure,
    Optional<Instant> failedAt,
    boolean running,
    List<MappingCopy> copies,
    long gapsRecopied,
    long deadLetters) {

  public ReplicationRecord {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(appliedSequence, "appliedSequence");
    Objects.requireNonNull(committedAt, "committedAt");
    Objects.requireNonNull(failure, "failure");
    Objects.requireNonNull(failedAt, "failedAt");
    copies = List.copyOf(Objects.requireNonNull(copies, "copies"));
  }

  /** Returns whether the replication last stopped on a failure it has not committed past since. */
  public boolean failed() {
    return failure.isPresent();
  }

  /** Returns the mappings whose initial copy has started and not ended, ordered by name. */
  public List<MappingCopy> unfinishedCopies() {
    return copies.stream().filter(copy -> !copy.completed()).toList();
  }

  /**
   * Returns the copy state of the named mapping, if it has one.
   *
   * @param mapping the mapping's name ({@link TreeMapping#name()}); must not be {@code null}
   * @return the copy state, or empty if the mapping has none (its next start copies it)
   * @throws NullPointerException if {@code mapping} is {@code null}
   */
  public Optional<MappingCopy> copy(String mapping) {
    Objects.requireNonNull(mapping, "mapping must not be null");
    return copies.stream().filter(copy -> copy.mapping().equals(mapping)).findFirst();
  }

  /**
   * The initial copy of one mapping. Immutable and thread-safe; no component is {@code null} (the
   * constructor throws {@link NullPointerException} for one).
   *
   * @param mapping the tree mapping's name ({@link TreeMapping#name()})
   * @param snapshotSequence the sequence number of the store snapshot the copy reads
   * @param rowsCopied the entries copied so far (all of them, once the copy is complete)
   * @param completedAt when the copy ended; empty while it is in progress
   */
  public record MappingCopy(String mapping, long snapshotSequence, long rowsCopied, Optional<Instant> completedAt) {

    public MappingCopy {
      Objects.requireNonNull(mapping, "mapping");
      Objects.requireNonNull(completedAt, "completedAt");
    }

    /** Returns whether the copy has ended: from then on the stream alone keeps the table current. */
    public boolean completed() {
      return completedAt.isPresent();
    }
  }
}
