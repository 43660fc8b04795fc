package io.kv2pg.cli;

import io.kv2pg.ReplicationException;
import io.kv2pg.ReplicationRecord;
import io.kv2pg.ReplicationRecords;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kv2pg reset --config FILE [--mapping NAME] [--yes]}: make the next start copy every table
 * (or one) again, replacing its rows, through {@link ReplicationRecords#reset(String)}.
 */
@Command(name = "reset", mixinStandardHelpOptions = true,
    header = "Make the next sync copy every table (or one) again, replacing its rows.",
    description = {
        "Forgets the replication's checkpoint (or one mapping's copy), so that the next sync or start copies",
        "every table (or that one) again from a new store snapshot. The copy replaces the table's rows in one",
        "transaction: readers see the old rows until it commits, and rows whose keys left the store are removed.",
        "Use it after a write-ahead log gap, a store restored from a backup, or to rebuild a table.",
        "Changes nothing in the tables now. Refused while the replication runs. Asks for confirmation on a",
        "terminal; elsewhere --yes is required.",
        "",
        "Exit codes: 0 reset (or nothing to reset for a mapping never copied), 1 not confirmed, 2 usage or",
        "configuration error (unknown mapping, no record of the replication, running, database unreachable)."})
final class ResetCommand extends CliCommand {
  @Option(names = "--config", required = true, paramLabel = "FILE",
      description = "The replication's YAML file (docs/CONFIG.md).")
  Path config;

  @Option(names = "--mapping", paramLabel = "NAME",
      description = "Reset only this mapping (its name: the table's 'name', or the column family and prefix in hex).")
  String mapping;

  @Option(names = "--yes", description = "Do not ask for confirmation (required when not on a terminal).")
  boolean yes;

  @Override
  int execute() throws Exception {
    ReplicationConfig replicationConfig = ConfigLoader.load(config, cli.env);
    String name = replicationConfig.name();
    List<String> mappings = replicationConfig.mappingNames();
    if (mapping != null && !mappings.contains(mapping)) {
      throw new CliException(Main.USAGE, "replication '" + name + "' in " + config + " has no mapping '" + mapping
          + "'; its mappings are: " + String.join(", ", mappings));
    }
    PostgresTarget target = PostgresTarget.of(replicationConfig);
    target.check();
    ReplicationRecords records = target.records();
    Optional<ReplicationRecord> record = records.read(name);
    if (record.isEmpty()) {
      throw new CliException(Main.USAGE, target.display() + " holds no record of replication '" + name
          + "': nothing to reset (its first sync copies every table). Check 'name' in " + config + ".");
    }
    if (record.get().running()) {
      throw running(name, target);
    }
    if (mapping != null && record.get().copies().stream().noneMatch(copy -> copy.mapping().equals(mapping))) {
      cli.out.printf(Locale.ROOT, "reset: mapping '%s' of replication '%s' was never copied: nothing to reset"
          + " (the next sync copies it)%n", mapping, name);
      return Main.OK;
    }
    String what = mapping == null
        ? "replication '" + name + "': the next sync copies all " + mappings.size() + " table(s) again"
        : "mapping '" + mapping + "' of replication '" + name + "': the next sync copies its table again";
    if (!yes) {
      if (!cli.interactive) {
        throw new CliException(Main.USAGE, "reset would change " + what + "; not on a terminal, so it cannot ask:"
            + " add --yes to confirm");
      }
      cli.out.print("Reset " + what + ", replacing their rows from a new store snapshot. Type 'yes' to confirm: ");
      cli.out.flush();
      String answer;
      try {
        answer = cli.in.readLine();
      } catch (IOException e) {
        answer = null;
      }
      if (answer == null || !answer.trim().equalsIgnoreCase("yes")) {
        cli.out.println("reset: not confirmed; nothing was reset");
        return Main.FOUND;
      }
    }
    boolean reset;
    try {
      reset = mapping == null ? records.reset(name) : records.reset(name, mapping);
    } catch (IllegalStateException e) {
      throw running(name, target);
    } catch (ReplicationException e) {
      throw new CliException(Main.FOUND, e.getMessage(), e);
    }
    cli.out.printf(Locale.ROOT, "reset %s%s, replacing their rows in one transaction (readers see the old rows"
        + " until it commits)%n", what, reset ? "" : " (nothing was recorded)");
    return Main.OK;
  }

  private static CliException running(String name, PostgresTarget target) {
    return new CliException(Main.USAGE, "replication '" + name + "' is running against " + target.display()
        + " (a process holds its lock); stop it first. Nothing was reset.");
  }
}
