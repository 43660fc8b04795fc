package io.kv2pg.cli;

import io.kv2pg.Replication;
import io.kv2pg.Verification;
import io.kv2pg.VerificationReport;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code kv2pg verify --config FILE}: compare every declared table with the store. */
@Command(name = "verify", mixinStandardHelpOptions = true,
    header = "Compare every table with the store (works while the application runs).",
    description = {
        "Compares every table of a replication with the RocksDB store, row by row and column by column.",
        "Works while the application runs: opens the store as a read-only RocksDB secondary instance,",
        "and leaves out the keys written after the replication's last commit.",
        "",
        "Exit codes: 0 every table equals the store, 1 differences found (a report follows) or the",
        "check failed, 2 usage or configuration error."})
final class VerifyCommand extends CliCommand {
  @Option(names = "--config", required = true, paramLabel = "FILE",
      description = "The replication's YAML file (docs/CONFIG.md).")
  Path config;

  @Option(names = "--samples", paramLabel = "N", defaultValue = "5",
      description = "How many differing rows to show per table (default: ${DEFAULT-VALUE}).")
  int samples;

  @Override
  int execute() throws Exception {
    if (samples < 0) {
      throw new CliException(Main.USAGE, "--samples must be 0 or more");
    }
    ReplicationConfig replicationConfig = ConfigLoader.load(config, cli.env);
    PostgresTarget target = PostgresTarget.of(replicationConfig);
    try (Store store = Store.openSecondary(replicationConfig.store(), replicationConfig.secondaryPath(),
        Replications.where(replicationConfig))) {
      Replication replication = Replications.build(replicationConfig, target, store);
      target.check();
      store.catchUp();
      VerificationReport report = Verification.of(replication).withMaxSamples(samples).followingPrimary().run();
      cli.out.print(report.format());
      if (report.isClean()) {
        cli.out.printf("verify: all %d tables of replication '%s' equal the store%n", report.tables().size(),
            replication.name());
        return Main.OK;
      }
      long differing = report.tables().stream().filter(table -> !table.isClean()).count();
      cli.out.printf("verify: %d of %d tables of replication '%s' differ from the store%n", differing,
          report.tables().size(), replication.name());
      return Main.FOUND;
    }
  }
}
