package io.kv2pg.internal.engine;

import io.kv2pg.ReplicationStatus;
import java.sql.SQLException;
import java.util.List;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Where a run reports what it does, for metrics. {@link #NONE} reports nowhere, so that a
 * replication without a meter registry loads no metrics library.
 *
 * <p>Concurrency: the writer thread reports commits and copies, the session's thread (the writer)
 * retries, and {@link #close} comes from the thread that stops the run; implementations are
 * thread-safe and never block.
 */
public interface Telemetry {
  /** Reports nowhere. */
  Telemetry NONE = new Telemetry() {};

  /** A transaction of the stream committed {@code rows}, after {@code nanos} of work. */
  default void committed(AppliedRows rows, long nanos) {}

  /**
   * A transaction of an initial copy (a chunk, or a whole re-copy) committed, after {@code nanos}
   * of work, with the rows it copied per mapping.
   */
  default void copied(java.util.Map<String, Long> rowsByMapping, long nanos) {}

  /** A gap in the write-ahead log is re-copied ({@code OnGap.RECOPY}). */
  default void gapRecopied() {}

  /** Postgres failed an attempt with {@code error}, and the work is tried again. */
  default void retried(SQLException error) {}

  /** A change was set aside because of its data. */
  default void deadLettered() {}

  /** The run is over and its status will not change again: forget what it registered. */
  default void close() {}

  /** Makes the telemetry of one run. */
  @FunctionalInterface
  interface Factory {
    /** Reports nowhere. */
    Factory NONE = (name, mappings, status, queueBytes) -> Telemetry.NONE;

    /**
     * @param name the replication's name
     * @param mappings the mappings' names, in the replication's order
     * @param status the run's status, for gauges; cheap, never blocks
     * @param queueBytes the bytes of changes read and not yet applied
     */
    Telemetry create(String name, List<String> mappings, Supplier<ReplicationStatus> status,
        LongSupplier queueBytes);
  }
}
