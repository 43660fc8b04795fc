package io.kv2pg.cli;

import io.kv2pg.Replication;
import io.kv2pg.ReplicationRecord;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code kv2pg status --postgres URL}: the replications a database records. */
@Command(name = "status", mixinStandardHelpOptions = true,
    header = "Show every replication a database records: progress, last commit, failure.",
    description = {
        "Lists every replication recorded in a PostgreSQL database: its applied RocksDB sequence,",
        "when it last committed, whether a process runs it now, an unfinished initial copy, and the",
        "failure it stopped on, if any.",
        "",
        "Exit codes: 0 no replication has failed, 1 one has, 2 usage or configuration error",
        "(including a database that cannot be reached)."})
final class StatusCommand extends CliCommand {
  static final class Server {
    @Option(names = "--postgres", paramLabel = "URL", required = true,
        description = "JDBC URL of the database, e.g. jdbc:postgresql://localhost:5432/app?user=app")
    String url;

    @Option(names = "--config", paramLabel = "FILE", required = true,
        description = "Take the database from a replication's YAML file instead.")
    Path config;
  }

  @ArgGroup(exclusive = true, multiplicity = "1")
  Server server;

  @Option(names = "--password-env", paramLabel = "NAME",
      description = "Read the password from this environment variable (default: PGPASSWORD if set).")
  String passwordEnv;

  @Option(names = "--password-file", paramLabel = "FILE",
      description = "Read the password from the first line of this file.")
  Path passwordFile;

  @Override
  int execute() throws Exception {
    PostgresTarget target;
    if (server.config != null) {
      if (passwordEnv != null || passwordFile != null) {
        throw new CliException(Main.USAGE, "--password-env and --password-file go with --postgres;"
            + " with --config, the file's postgres section says where the password is");
      }
      target = PostgresTarget.of(ConfigLoader.load(server.config, cli.env));
    } else {
      target = PostgresTarget.ofOption(server.url, Passwords.read(passwordEnv, passwordFile, cli.env));
    }
    target.check();
    List<ReplicationRecord> records = target.records().list();
    if (records.isEmpty()) {
      cli.out.println("No kv2pg replication is recorded in " + target.display() + ".");
      return Main.OK;
    }
    return print(records, target);
  }

  private int print(List<ReplicationRecord> records, PostgresTarget target) {
    List<List<String>> table = new ArrayList<>();
    List<String[]> failures = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    Instant now = Instant.now();
    for (ReplicationRecord record : records) {
      String name = record.name();
      String copying = record.unfinishedCopies().stream()
          .map(copy -> copy.mapping() + " (" + copy.rowsCopied() + " rows so far)")
          .collect(Collectors.joining(", "));
      String state = record.failed() ? "FAILED" : record.running() ? "running" : "stopped";
      if (!copying.isEmpty()) {
        state += ", copying";
        notes.add(name + ": initial copy not finished: " + copying);
      }
      table.add(List.of(name, state, String.format(Locale.ROOT, "%,d", record.appliedSequence().orElse(0)),
          record.committedAt().map(committed -> committed + " (" + ago(committed, now) + ")").orElse("")));
      if (record.deadLetters() > 0) {
        notes.add(String.format(Locale.ROOT, "%s: %,d change(s) set aside as dead letters (list them with"
            + " %s dead-letters --config FILE)", name, record.deadLetters(), cli.command));
      }
      if (record.gapsRecopied() > 0) {
        notes.add(String.format(Locale.ROOT, "%s: %,d write-ahead log gap(s) re-copied (on-gap: recopy)", name,
            record.gapsRecopied()));
      }
      record.failure().ifPresent(failure -> failures.add(
          new String[] {name, record.failedAt().map(Instant::toString).orElse(""), failure}));
    }
    cli.out.println("Replications in " + target.display() + ":");
    TablePrinter.print(cli.out, List.of("replication", "state", "applied sequence", "last commit"),
        List.of(false, false, true, false), table);
    for (String note : notes) {
      cli.out.println(note);
    }
    for (String[] failure : failures) {
      cli.out.println();
      cli.out.println("Replication '" + failure[0] + "' FAILED at " + failure[1] + ":");
      failure[2].lines().forEach(line -> cli.out.println("  " + Redact.text(line)));
    }
    return failures.isEmpty() ? Main.OK : Main.FOUND;
  }

  private static String ago(Instant then, Instant now) {
    Duration age = Duration.between(then, now);
    if (age.isNegative()) {
      age = Duration.ZERO;
    }
    long seconds = age.getSeconds();
    if (seconds < 120) {
      return seconds + " s ago";
    }
    if (seconds < 7200) {
      return seconds / 60 + " min ago";
    }
    if (seconds < 172800) {
      return seconds / 3600 + " h ago";
    }
    return seconds / 86400 + " days ago";
  }
}
