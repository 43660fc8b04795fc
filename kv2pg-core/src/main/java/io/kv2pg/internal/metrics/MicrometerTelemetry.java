package io.kv2pg.internal.metrics;

import io.kv2pg.ReplicationState;
import io.kv2pg.ReplicationStatus;
import io.kv2pg.internal.engine.AppliedRows;
import io.kv2pg.internal.engine.Telemetry;
import io.kv2pg.internal.postgres.SqlStates;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.TimeGauge;
import io.micrometer.core.instrument.Timer;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * A run's meters in a Micrometer registry, all tagged {@code replication=<name>}, named after
 * Micrometer's conventions (dots, base units) so that the Prometheus registry renders {@code
 * kv2pg_lag_seconds} and friends. Gauges read the run's status when the registry asks; counters
 * and the timer are told by the run.
 *
 * <p>Concurrency: thread-safe; Micrometer's meters are.
 */
public final class MicrometerTelemetry implements Telemetry {
  /** The prefix of every meter's name. */
  public static final String PREFIX = "kv2pg.";
  private static final String REPLICATION = "replication";

  private final MeterRegistry registry;
  private final Tags tags;
  private final List<String> mappings;
  private final List<Meter> meters = new ArrayList<>();
  private final Counter[] upserts;
  private final Counter[] deletes;
  private final ConcurrentHashMap<String, Counter> copyRows = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Counter> retries = new ConcurrentHashMap<>();
  private final Counter commits;
  private final Counter gapsRecopied;
  private final Counter deadlocks;
  private final Timer commitDuration;
  private final Counter deadLetters;

  private MicrometerTelemetry(MeterRegistry registry, String name, List<String> mappings,
      Supplier<ReplicationStatus> status, LongSupplier queueBytes) {
    this.registry = registry;
    this.tags = Tags.of(REPLICATION, name);
    this.mappings = mappings;
    removeLeftovers(name);
    upserts = new Counter[mappings.size()];
    deletes = new Counter[mappings.size()];
    for (int i = 0; i < mappings.size(); i++) {
      upserts[i] = rowsApplied(mappings.get(i), "upsert");
      deletes[i] = rowsApplied(mappings.get(i), "delete");
      copyRows(mappings.get(i));
    }
    commits = keep(Counter.builder(PREFIX + "commits").tags(tags)
        .description("Transactions committed by this run, initial-copy chunks included").register(registry));
    commitDuration = keep(Timer.builder(PREFIX + "commit.duration").tags(tags)
        .description("How long a transaction's work took, from its first statement to its commit")
        .publishPercentiles(0.5, 0.9, 0.99).register(registry));
    gapsRecopied = keep(Counter.builder(PREFIX + "gaps.recopied").tags(tags)
        .description("Write-ahead log gaps for which every mapping was re-copied").register(registry));
    deadlocks = keep(Counter.builder(PREFIX + "deadlocks").tags(tags)
        .description("Attempts that Postgres ended as a deadlock (SQLSTATE 40P01), each also a retry")
        .register(registry));
    deadLetters = keep(Counter.builder(PREFIX + "dead.letters").tags(tags)
        .description("Changes set aside because of their data").register(registry));
    keep(TimeGauge.builder(PREFIX + "lag", status, TimeUnit.NANOSECONDS, s -> s.get().lag().toNanos())
        .tags(tags).strongReference(true)
        .description("How long the oldest write that Postgres does not hold yet has been waiting")
        .register(registry));
    gauge("lag.sequences", "Sequence numbers the store is ahead of Postgres", status,
        s -> s.get().sequenceLag());
    gauge("queue.bytes", "Bytes of changes read from the log and not yet applied", queueBytes,
        LongSupplier::getAsLong);
    gauge("stalled", "1 while the replication is behind and has committed nothing for too long", status,
        s -> s.get().stalled() ? 1 : 0);
    for (ReplicationState state : ReplicationState.values()) {
      keep(Gauge.builder(PREFIX + "state", status, s -> s.get().state() == state ? 1 : 0)
          .tags(tags.and("state", state.name().toLowerCase(Locale.ROOT))).strongReference(true)
          .description("1 for the replication's current state, 0 for the others").register(registry));
    }
  }

  /** Returns a factory of telemetry that registers its meters in {@code registry}. */
  public static Telemetry.Factory factory(MeterRegistry registry) {
    return (name, mappings, status, queueBytes) -> new MicrometerTelemetry(registry, name, mappings, status,
        queueBytes);
  }

  /** A run that was not stopped leaves its meters, whose gauges read that run: replace them. */
  private void removeLeftovers(String name) {
    for (Meter meter : List.copyOf(registry.getMeters())) {
      if (meter.getId().getName().startsWith(PREFIX) && name.equals(meter.getId().getTag(REPLICATION))) {
        registry.remove(meter);
      }
    }
  }

  private Counter rowsApplied(String mapping, String op) {
    return keep(Counter.builder(PREFIX + "rows.applied").tags(tags.and("mapping", mapping, "op", op))
        .description("Rows written by the stream, after per-key coalescing").register(registry));
  }

  private Counter copyRows(String mapping) {
    return copyRows.computeIfAbsent(mapping, m -> keep(Counter.builder(PREFIX + "copy.rows")
        .tags(tags.and("mapping", m)).description("Rows written by the initial copy").register(registry)));
  }

  private <T> void gauge(String name, String description, T source, ToDoubleFunction<T> value) {
    keep(Gauge.builder(PREFIX + name, source, value).tags(tags).strongReference(true).description(description)
        .register(registry));
  }

  private <M extends Meter> M keep(M meter) {
    synchronized (meters) {
      meters.add(meter);
    }
    return meter;
  }

  @Override
  public void committed(AppliedRows rows, long nanos) {
    commits.increment();
    commitDuration.record(nanos, TimeUnit.NANOSECONDS);
    for (int i = 0; i < rows.mappings(); i++) {
      if (rows.upserts(i) > 0) {
        upserts[i].increment(rows.upserts(i));
      }
      if (rows.deletes(i) > 0) {
        deletes[i].increment(rows.deletes(i));
      }
    }
  }

  @Override
  public void gapRecopied() {
    gapsRecopied.increment();
  }

  @Override
  public void copied(java.util.Map<String, Long> rowsByMapping, long nanos) {
    commits.increment();
    commitDuration.record(nanos, TimeUnit.NANOSECONDS);
    rowsByMapping.forEach((mapping, rows) -> copyRows(mapping).increment(rows));
  }

  @Override
  public void retried(SQLException error) {
    String state = error.getSQLState();
    String sqlStateClass = state != null && state.length() >= 2 ? state.substring(0, 2) : "none";
    retries.computeIfAbsent(sqlStateClass, c -> keep(Counter.builder(PREFIX + "retries")
        .tags(tags.and("sqlstate.class", c))
        .description("Attempts that Postgres failed and kv2pg tried again, by SQLSTATE class")
        .register(registry))).increment();
    if (SqlStates.isDeadlock(error)) {
      deadlocks.increment();
    }
  }

  @Override
  public void deadLettered() {
    deadLetters.increment();
  }

  @Override
  public void close() {
    synchronized (meters) {
      meters.forEach(registry::remove);
      meters.clear();
    }
  }

  @Override
  public String toString() {
    return "MicrometerTelemetry[" + tags + ", mappings=" + mappings + "]";
  }
}
