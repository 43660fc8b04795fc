package io.kv2pg.cli;

import io.kv2pg.Replication;
import io.kv2pg.ReplicationState;
import io.kv2pg.ReplicationStatus;
import io.kv2pg.RunningReplication;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code kv2pg follow --config FILE}: keep the tables in step with a live store until stopped. */
@Command(name = "follow", mixinStandardHelpOptions = true,
    header = "Keep the tables in step with a store that another program owns, until stopped.",
    description = {
        "Follows a RocksDB store that another program (in any language) owns and writes, and keeps its",
        "PostgreSQL tables in step until SIGTERM or Ctrl-C, whether that program is running, restarting or",
        "stopped. Opens the store read-only, as a RocksDB secondary instance with its own files in",
        "rocksdb.secondary-path (a temporary folder without it): nothing in the store's folder is written.",
        "The store must keep its WAL files (WAL_ttl_seconds or WAL_size_limit_MB in its OPTIONS file).",
        "Prints one line per state change. Meant to run as a service (docs/FOLLOW.md).",
        "",
        "SIGTERM or Ctrl-C stops it at the next commit; the next follow resumes there.",
        "",
        "Exit codes: 0 stopped by SIGTERM or Ctrl-C, 1 the replication failed, 2 usage or configuration",
        "error (bad config file, store missing, no WAL retention, database unreachable)."})
final class FollowCommand extends CliCommand {
  private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

  @Option(names = "--config", required = true, paramLabel = "FILE",
      description = "The replication's YAML file (docs/CONFIG.md).")
  Path config;

  @Mixin
  MetricsOptions metrics;

  @Override
  @SuppressWarnings("try") // the signal registration is held, not referenced
  int execute() throws Exception {
    ReplicationConfig replicationConfig = ConfigLoader.load(config, cli.env);
    PostgresTarget target = PostgresTarget.of(replicationConfig);
    Store.checkReadOnly(replicationConfig, false); // A family not created yet is waited for.
    try (MetricsServer server = metrics.start(cli)) {
      Replication replication = Replications.buildFollowing(replicationConfig, target, server);
      target.check();
      cli.out.printf("follow: replication '%s' from %s (read-only) into %s%n", replication.name(),
          replicationConfig.store(), target.display());
      RunningReplication running = Replications.start(replication, server);
      ReplicationStatus status;
      try (Interrupts.Registration signals = cli.interrupts.whileRunning("stopping follow at the next commit",
          () -> running.stopAtNextCommit(Replications.STOP_TIMEOUT))) {
        try {
          status = watch(running);
        } finally {
          running.close();
        }
      }
      status = running.status();
      if (status.state() == ReplicationState.FAILED) {
        throw new CliException(Main.FOUND, "follow failed: " + Replications.failure(status));
      }
      cli.out.printf(Locale.ROOT, "follow: %s: %s; follow again to resume%n",
          cli.interrupts.received() ? cli.interrupts.signalName() : "stopped", Replications.stoppedAt(status));
      return Main.OK;
    }
  }

  /** Prints a line at each state change until the replication has stopped or failed. */
  private ReplicationStatus watch(RunningReplication running) {
    ReplicationState shown = null;
    String waitingShown = null;
    while (true) {
      ReplicationStatus status = running.status();
      String waiting = status.waitingFor().orElse(null);
      if (status.state() != shown || (waiting != null && !waiting.equals(waitingShown))) {
        cli.out.printf(Locale.ROOT, "follow: %s at sequence %,d (store at %,d)%s%n",
            status.state().name().toLowerCase(Locale.ROOT), status.appliedSequence(),
            status.appliedSequence() + status.sequenceLag(), waiting == null ? "" : "; waiting for " + waiting);
        cli.out.flush();
        shown = status.state();
        waitingShown = waiting;
      }
      if (status.state() == ReplicationState.STOPPED || status.state() == ReplicationState.FAILED) {
        return status;
      }
      LockSupport.parkNanos(POLL_NANOS);
    }
  }
}
