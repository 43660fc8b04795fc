package io.kv2pg.cli;

import io.kv2pg.DeadLetter;
import io.kv2pg.DeadLetterRetry;
import io.kv2pg.Replication;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code kv2pg dead-letters --config FILE [--retry]}: the changes set aside because of their data. */
@Command(name = "dead-letters", mixinStandardHelpOptions = true,
    header = "List the changes a replication set aside because of their data; --retry applies them again.",
    description = {
        "Lists the dead letters of a replication that runs with 'on-data-error: dead-letter': the changes"
            + " the mapping could not read or Postgres refused, with the key in hex, the sequence number and"
            + " the error. A later clean write of the same key resolves its dead letter by itself.",
        "",
        "--retry, after you fixed the mapping or the data, applies each again from the store's current"
            + " value of its key, one transaction each, and removes those that apply. It reads the store"
            + " read-only (a secondary instance) and needs the replication stopped and caught up (run"
            + " sync first).",
        "",
        "Exit codes: 0 listed (or, with --retry, none remains), 1 some remain after --retry or it could"
            + " not retry, 2 usage or configuration error."})
final class DeadLettersCommand extends CliCommand {
  @Option(names = "--config", required = true, paramLabel = "FILE",
      description = "The replication's YAML file (docs/CONFIG.md).")
  Path config;

  @Option(names = "--retry", description = "Apply each dead letter again from the store; remove those that apply.")
  boolean retry;

  @Override
  int execute() throws Exception {
    ReplicationConfig replicationConfig = ConfigLoader.load(config, cli.env);
    PostgresTarget target = PostgresTarget.of(replicationConfig);
    target.check();
    String name = replicationConfig.name();
    if (!retry) {
      List<DeadLetter> letters = target.records().deadLetters(name);
      print(letters, name);
      return Main.OK;
    }
    Store.checkReadOnly(replicationConfig);
    Replication replication = Replications.buildFollowing(replicationConfig, target, null);
    DeadLetterRetry result;
    try {
      result = replication.retryDeadLetters();
    } catch (IllegalStateException e) {
      throw new CliException(Main.FOUND, e.getMessage(), e);
    }
    cli.out.printf(Locale.ROOT, "dead-letters: %,d applied again and removed, %,d remain%n", result.retried(),
        result.remaining().size());
    if (!result.isClean()) {
      print(result.remaining(), name);
    }
    return result.isClean() ? Main.OK : Main.FOUND;
  }

  private void print(List<DeadLetter> letters, String name) {
    if (letters.isEmpty()) {
      cli.out.printf("dead-letters: replication '%s' has none%n", name);
      return;
    }
    cli.out.printf(Locale.ROOT, "dead-letters: replication '%s' has %,d:%n", name, letters.size());
    List<List<String>> rows = new ArrayList<>();
    for (DeadLetter letter : letters) {
      rows.add(List.of(letter.mapping(), letter.keyHex(), String.format(Locale.ROOT, "%,d", letter.sequence()),
          letter.value().isPresent() ? "upsert" : "delete", letter.sqlState().orElse(""),
          Cli.oneLine(Redact.text(letter.error()))));
    }
    TablePrinter.print(cli.out, List.of("mapping", "key (hex)", "sequence", "change", "sqlstate", "error"),
        List.of(false, false, true, false, false, false), rows);
  }
}
