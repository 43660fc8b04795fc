package io.kv2pg.cli;

import io.kv2pg.RepairReport;
import io.kv2pg.Replication;
import io.kv2pg.ReplicationRecord;
import io.kv2pg.Verification;
import io.kv2pg.VerificationReport;
import io.kv2pg.VerificationReport.TableResult;
import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kv2pg verify --config FILE [--repair]}: compare every declared table with the store, and
 * with {@code --repair} fix the rows that differ and compare again.
 */
@Command(name = "verify", mixinStandardHelpOptions = true,
    header = "Compare every table with the store (works while the application runs).",
    description = {
        "Compares every table of a replication with the RocksDB store, row by row and column by column.",
        "Works while the application runs: opens the store as a read-only RocksDB secondary instance.",
        "While the replication runs, the keys written after its last commit are left out (not applied yet).",
        "When it does not run and is behind the store, the tables it has not brought up to date are",
        "reported BEHIND, with exit code 1: run sync first, or give --allow-behind.",
        "With --repair, the rows found missing, extra or different are fixed (only those), then the",
        "tables are compared again; the exit code says how that second comparison ended.",
        "",
        "Exit codes: 0 every table equals the store (after --repair: once repaired), 1 differences found",
        "(a report follows), a table is behind, a repair was refused, or the check failed, 2 usage or",
        "configuration error, 130/143 ended by Ctrl-C/SIGTERM."})
final class VerifyCommand extends CliCommand {
  @Option(names = "--config", required = true, paramLabel = "FILE",
      description = "The replication's YAML file (docs/CONFIG.md).")
  Path config;

  @Option(names = "--samples", paramLabel = "N", defaultValue = "5",
      description = "How many differing rows to show per table (default: ${DEFAULT-VALUE}).")
  int samples;

  @Option(names = "--allow-behind", description = {"When the replication is not running and is behind the"
      + " store, compare what it has applied and leave out the keys written since, instead of exit code 1."})
  boolean allowBehind;

  @Option(names = "--repair", description = {"After comparing, fix the rows that differ (insert the missing,"
      + " delete the extra, rewrite the different), one transaction per 1,000 rows, without a re-copy; every"
      + " other row is left as it is. Safe while the replication runs: keys written after its last commit are"
      + " left alone (it applies them). Then compares again."})
  boolean repair;

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
      Verification verification;
      try {
        verification = Verification.of(replication).withMaxSamples(samples).followingPrimary();
      } catch (IllegalArgumentException e) { // no declared table
        throw new CliException(Main.USAGE, e.getMessage(), e);
      }
      VerificationReport report;
      if (repair) {
        RepairReport repaired;
        try {
          repaired = verification.repair();
        } catch (IllegalStateException e) { // no checkpoint, a copy not complete or begun meanwhile
          throw new CliException(Main.FOUND, e.getMessage(), e);
        }
        cli.out.print(format(repaired.before(), false));
        cli.out.print(repaired.formatRepairs());
        cli.out.printf(Locale.ROOT, "verify: repaired %,d %s of replication '%s'; compared again:%n",
            repaired.repaired(), repaired.repaired() == 1 ? "row" : "rows", replication.name());
        report = repaired.after();
      } else {
        report = verification.run();
      }
      // Read after the comparison: a replication that ran during it may have been behind the snapshot.
      boolean running = target.records().read(replication.name()).map(ReplicationRecord::running).orElse(false);
      long behind = running ? 0 : Math.max(0, report.storeSequence() - report.appliedSequence().orElse(0));
      boolean strict = behind > 0 && !allowBehind;
      cli.out.print(format(report, strict));
      return summarize(report, replication.name(), behind, strict);
    }
  }

  /** Whether a table's comparison left keys out that a stopped replication has not applied. */
  private static boolean isBehind(TableResult table, boolean strict) {
    return strict && table.isClean() && table.inFlight() > 0;
  }

  /**
   * The report, one paragraph per table, as {@link VerificationReport#format()} but with {@code
   * BEHIND} instead of {@code OK} for a table that left keys out while the replication is stopped.
   */
  static String format(VerificationReport report, boolean strict) {
    StringBuilder text = new StringBuilder();
    text.append(String.format(Locale.ROOT, "store snapshot at sequence %d", report.storeSequence()));
    report.appliedSequence().ifPresent(applied -> text.append(", replication applied through ").append(applied));
    text.append('\n');
    for (TableResult table : report.tables()) {
      String label = !table.isClean() ? "DIFF  " : isBehind(table, strict) ? "BEHIND " : "OK    ";
      text.append(label).append(table.table()).append(" (mapping '").append(table.mapping()).append("'): ")
          .append(table.storeRows()).append(" store entries, ").append(table.tableRows()).append(" rows");
      if (!table.isClean()) {
        text.append("; ").append(table.missing()).append(" missing, ").append(table.extra())
            .append(" extra, ").append(table.different()).append(" different");
      }
      if (table.inFlight() > 0) {
        text.append("; ").append(table.inFlight()).append(isBehind(table, strict)
            ? " not compared: written after the last sync"
            : " not compared (written after the checkpoint)");
      }
      text.append('\n');
      for (String sample : table.samples()) {
        text.append("      ").append(sample).append('\n');
      }
    }
    return text.toString();
  }

  private int summarize(VerificationReport report, String name, long behind, boolean strict) {
    int tables = report.tables().size();
    long differing = report.tables().stream().filter(table -> !table.isClean()).count();
    long behindTables = report.tables().stream().filter(table -> isBehind(table, strict)).count();
    String which = tables == 1 ? "the table" : "all " + tables + " tables";
    if (differing > 0) {
      cli.out.printf(Locale.ROOT, "verify: %s of replication '%s' %s from the store%n",
          tables == 1 ? "the table" : differing + " of " + tables + " tables", name,
          differing == 1 ? "differs" : "differ");
    }
    if (behindTables > 0) {
      long keys = report.tables().stream().filter(table -> isBehind(table, strict)).mapToLong(TableResult::inFlight)
          .sum();
      cli.out.printf(Locale.ROOT, "verify: replication '%s' is not running and is %,d sequences behind the store"
          + " (it applied through sequence %,d, the store is at %,d): %s of %d not compared in full, %,d keys"
          + " written since left out. Run sync first (or give --allow-behind to compare only what it has"
          + " applied).%n", name, behind, report.appliedSequence().orElse(0), report.storeSequence(),
          behindTables == 1 ? "1 table" : behindTables + " tables", tables, keys);
    }
    if (differing > 0 || behindTables > 0) {
      return Main.FOUND;
    }
    long leftOut = report.tables().stream().mapToLong(TableResult::inFlight).sum();
    if (behind > 0 && leftOut > 0) { // --allow-behind
      cli.out.printf(Locale.ROOT, "verify: %s of replication '%s' %s the store as of its last commit (sequence"
          + " %,d); it is not running and is %,d sequences behind the store, and the %,d keys written since"
          + " were not compared (--allow-behind)%n", which, name, tables == 1 ? "equals" : "equal",
          report.appliedSequence().orElse(0), behind, leftOut);
      return Main.OK;
    }
    cli.out.printf(Locale.ROOT, "verify: %s of replication '%s' %s the store%s%n", which, name,
        tables == 1 ? "equals" : "equal", behind == 0 ? "" : String.format(Locale.ROOT, " (the replication is not"
            + " running and is %,d sequences behind the store, but none of those writes is to its tables)", behind));
    return Main.OK;
  }
}
