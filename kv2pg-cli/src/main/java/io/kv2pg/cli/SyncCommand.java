package io.kv2pg.cli;

import io.kv2pg.Replication;
import io.kv2pg.ReplicationException;
import io.kv2pg.ReplicationState;
import io.kv2pg.ReplicationStatus;
import io.kv2pg.RunningReplication;
import io.kv2pg.TreeMapping;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Locale;
import java.util.OptionalLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code kv2pg sync --config FILE}: replicate until caught up, then stop. */
@Command(name = "sync", mixinStandardHelpOptions = true,
    header = "Replicate a stopped application's store until caught up, then stop.",
    description = {
        "Replicates a stopped application's RocksDB store into PostgreSQL until caught up, then stops.",
        "Opens the store read-only, as a RocksDB secondary instance (rocksdb.secondary-path, or a temporary",
        "folder): it never writes in the store's folder, and works while the application runs too.",
        "A first sync copies everything; later ones apply what was written since (from the WAL).",
        "",
        "Ctrl-C or SIGTERM stops it at the next commit (within about a second, without applying the rest)",
        "and says where; the next sync resumes there. A second Ctrl-C ends it at once, which is safe too.",
        "",
        "Exit codes: 0 caught up, 1 the replication failed or --timeout ran out, 2 usage or configuration",
        "error (bad config file, store missing, no WAL retention, database unreachable),",
        "130 stopped by Ctrl-C (SIGINT), 143 stopped by SIGTERM."})
final class SyncCommand extends CliCommand {
  @Option(names = "--config", required = true, paramLabel = "FILE",
      description = "The replication's YAML file (docs/CONFIG.md).")
  Path config;

  @Option(names = "--plain", description = "Print log lines instead of a live display, even on a terminal.")
  boolean plain;

  @Mixin
  MetricsOptions metrics;

  @Option(names = "--timeout", paramLabel = "DURATION", converter = DurationConverter.class,
      description = {"Give up when not caught up within this time (like 30s, 10m, 1h): stop at the next"
          + " commit, say how far it got, exit with 1. The next sync resumes there. For cron jobs."})
  Duration timeout;

  @Override
  @SuppressWarnings("try") // the view and the signal registration are held, not referenced
  int execute() throws Exception {
    ReplicationConfig replicationConfig = ConfigLoader.load(config, cli.env);
    PostgresTarget target = PostgresTarget.of(replicationConfig);
    Store.checkReadOnly(replicationConfig);
    try (MetricsServer server = metrics.start(cli)) {
      Replication replication = Replications.buildFollowing(replicationConfig, target, server);
      target.check();
      cli.out.printf("sync: replication '%s' from %s into %s%n", replication.name(), replicationConfig.store(),
          target.display());
      OptionalLong applied = appliedSequence(target, replication.name());
      cli.out.println(applied.isPresent()
          ? String.format(Locale.ROOT, "sync: resuming after sequence %,d (the last one applied)", applied.getAsLong())
          : "sync: first run of this replication: copying the store, then its write-ahead log");
      long started = System.nanoTime();
      CopySummary copies = CopySummary.before(target, replication.name());
      RunningReplication running = Replications.start(replication, server);
      long estimate = estimate(replicationConfig, replication);
      ReplicationStatus status;
      boolean caughtUp;
      try (Interrupts.Registration signals = cli.interrupts.whileRunning("stopping sync at the next commit",
          () -> running.stopAtNextCommit(Replications.STOP_TIMEOUT))) {
        try {
          try (CopyRowsInFlight inFlight = new CopyRowsInFlight(target, "kv2pg-" + replication.name());
              ProgressView view = new ProgressView(cli.out, cli.terminal && !plain, running, () -> estimate, null)
                  .copyRowsInFlight(inFlight).copies(copies).start()) {
            status = Replications.awaitCaughtUp(running, timeout);
          }
          caughtUp = status != null && status.state() == ReplicationState.STREAMING && !cli.interrupts.received();
          if (caughtUp) {
            running.stop();
          } else {
            running.stopAtNextCommit(Replications.STOP_TIMEOUT);
          }
          status = running.status();
        } finally {
          running.close();
        }
      }
      double seconds = (System.nanoTime() - started) / 1e9;
      if (status.state() == ReplicationState.FAILED) {
        throw new CliException(Main.FOUND, "sync failed: " + Replications.failure(status));
      }
      if (cli.interrupts.received()) {
        cli.out.printf(Locale.ROOT, "sync: %s: %s; run sync again to resume%n", cli.interrupts.signalName(),
            Replications.stoppedAt(status));
        return cli.interrupts.exitCode();
      }
      if (!caughtUp) {
        String why = timeout == null ? "sync stopped before it caught up"
            : "sync did not catch up within " + DurationConverter.format(timeout);
        throw new CliException(Main.FOUND, String.format(Locale.ROOT, "%s: %s (%,d rows written); the next"
            + " sync resumes there", why, Replications.stoppedAt(status), status.rowsApplied()));
      }
      cli.out.printf(Locale.ROOT, "sync: caught up. Replication '%s' has applied the store through sequence %,d;"
          + " %,d rows written in %.1f s.%n", replication.name(), status.appliedSequence(), status.rowsApplied(),
          seconds);
      if (status.deadLetters() > 0) {
        cli.out.printf(Locale.ROOT, "sync: %,d change(s) set aside as dead letters (on-data-error: dead-letter);"
            + " list them with: %s dead-letters --config %s%n", status.deadLetters(), cli.command, config);
      }
      String copied = copies.describe();
      if (copied != null) {
        cli.out.println("sync: " + copied);
      }
      for (int i = 0; i < replication.trees().size(); i++) {
        cli.out.printf("  %s -> table %s%n", replication.trees().get(i).name(),
            replicationConfig.tables().get(i).table());
      }
      return Main.OK;
    }
  }

  /** RocksDB's estimate of the entries to copy, read once the replication has checked the store. */
  private static long estimate(ReplicationConfig config, Replication replication) {
    try (Store store = Store.openSecondary(config.store(), null, Replications.where(config))) {
      return store.estimateEntries(replication.trees().stream().map(TreeMapping::treeName).distinct().toList());
    } catch (CliException e) {
      return 0; // An estimate only.
    }
  }

  /** The replication's checkpoint, if it has one (0 for a row that has not committed one). */
  static OptionalLong appliedSequence(PostgresTarget target, String name) {
    try {
      return target.records().read(name)
          .map(record -> OptionalLong.of(record.appliedSequence().orElse(0)))
          .orElse(OptionalLong.empty());
    } catch (ReplicationException e) {
      throw new CliException(Main.FOUND, "cannot read the checkpoint of replication '" + name + "': "
          + (e.getCause() instanceof SQLException cause ? PostgresTarget.describe(cause) : e.getMessage()), e);
    }
  }

  static void removeHook(Thread hook) {
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // The JVM is shutting down: the hook runs anyway.
    }
  }
}
