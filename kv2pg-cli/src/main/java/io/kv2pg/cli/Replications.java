package io.kv2pg.cli;

import io.kv2pg.Replication;
import io.kv2pg.ReplicationException;
import io.kv2pg.ReplicationState;
import io.kv2pg.ReplicationStatus;
import io.kv2pg.RunningReplication;
import io.kv2pg.TreeMapping;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/** Builds and runs replications for the commands. */
final class Replications {
  private Replications() {}

  static String where(ReplicationConfig config) {
    return "rocksdb.path in " + config.file() + ", line " + config.storeLine();
  }

  static Replication build(ReplicationConfig config, PostgresTarget target, Store store) {
    return build(config, target, store, null);
  }

  /** Builds the replication; it publishes its metrics to {@code metrics} unless that is null. */
  static Replication build(ReplicationConfig config, PostgresTarget target, Store store, MetricsServer metrics) {
    List<TreeMapping> mappings = config.mappings(store.families);
    Replication.Builder builder = Replication.builder()
        .postgres(target.dataSource("kv2pg-" + config.name()))
        .source(store.db)
        .name(config.name())
        .onDataError(config.onDataError())
        .onGap(config.onGap());
    if (metrics != null) {
      builder.meterRegistry(metrics.registry());
    }
    mappings.forEach(builder::tree);
    return builder.build();
  }

  /**
   * Builds a replication that follows the store read-only, as a secondary instance in {@code
   * rocksdb.secondary-path} (a temporary folder without it); it publishes its metrics to {@code
   * metrics} unless that is null.
   */
  static Replication buildFollowing(ReplicationConfig config, PostgresTarget target, MetricsServer metrics) {
    Replication.Builder builder = Replication.builder()
        .postgres(target.dataSource("kv2pg-" + config.name()))
        .follow(config.store())
        .name(config.name())
        .onDataError(config.onDataError());
    if (config.secondaryPath() != null) {
      builder.followerDir(config.secondaryPath());
    }
    if (metrics != null) {
      builder.meterRegistry(metrics.registry());
    }
    config.mappingsByName().forEach(builder::tree);
    return builder.build();
  }

  /**
   * Starts a replication.
   *
   * @throws CliException with the exit code of {@link #exitCode}
   */
  static RunningReplication start(Replication replication) {
    try {
      return replication.start();
    } catch (ReplicationException e) {
      throw new CliException(exitCode(e), e.getMessage(), e);
    }
  }

  /** Starts a replication, as {@link #start(Replication)}, and has {@code metrics} (if any) report on it. */
  static RunningReplication start(Replication replication, MetricsServer metrics) {
    RunningReplication running = start(replication);
    if (metrics != null) {
      metrics.watch(running);
    }
    return running;
  }

  /** Usage and configuration errors exit with 2; a failure of the replication itself with 1. */
  static int exitCode(ReplicationException error) {
    return switch (error.kind()) {
      case CONFIGURATION, ALREADY_RUNNING -> Main.USAGE;
      default -> Main.FOUND;
    };
  }

  /** How long a stop at the next commit waits for that commit before it cancels it. */
  static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);

  /**
   * Waits until the replication has applied everything the store held when the wait began, or
   * failed or stopped.
   */
  static ReplicationStatus awaitCaughtUp(RunningReplication running) throws InterruptedException {
    return awaitCaughtUp(running, null);
  }

  /**
   * As {@link #awaitCaughtUp(RunningReplication)}, for at most {@code timeout} ({@code null}: no
   * limit).
   *
   * @return the status, or {@code null} if the time ran out first
   */
  static ReplicationStatus awaitCaughtUp(RunningReplication running, Duration timeout) throws InterruptedException {
    long deadline = timeout == null ? 0 : System.nanoTime() + timeout.toNanos();
    while (true) {
      Duration wait = Duration.ofMillis(500);
      if (timeout != null) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return null;
        }
        wait = Duration.ofNanos(Math.min(left, wait.toNanos()));
      }
      if (running.awaitCaughtUp(wait)) {
        return running.status();
      }
      ReplicationStatus status = running.status();
      if (status.state() == ReplicationState.FAILED || status.state() == ReplicationState.STOPPED) {
        return status;
      }
    }
  }

  /** "stopped at sequence N, M behind": where a replication stopped short, for people. */
  static String stoppedAt(ReplicationStatus status) {
    return String.format(Locale.ROOT, "stopped at sequence %,d, %,d behind", status.appliedSequence(),
        status.sequenceLag());
  }

  /** The failure's message, or {@code null}. */
  static String failure(ReplicationStatus status) {
    return status.failure().map(Throwable::getMessage).orElse(null);
  }
}
