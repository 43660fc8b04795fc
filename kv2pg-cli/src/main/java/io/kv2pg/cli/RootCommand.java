package io.kv2pg.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/** {@code kv2pg}: without a subcommand, prints the usage and exits with 2. */
@Command(name = "kv2pg",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
        "Keeps PostgreSQL tables in step with a RocksDB store.",
        "",
        "Exit codes: 0 ok, 1 a difference or failure found, 2 usage or configuration error."},
    subcommands = {DemoCommand.class, SyncCommand.class, FollowCommand.class, VerifyCommand.class,
        StatusCommand.class, DeadLettersCommand.class, ResetCommand.class,
        picocli.CommandLine.HelpCommand.class},
    commandListHeading = "%nCommands:%n",
    footer = {"", "Run 'kv2pg COMMAND --help' for a command's options.", "Config format: docs/CONFIG.md."})
final class RootCommand implements Runnable {
  private final Cli cli;

  @Spec CommandSpec spec;

  RootCommand(Cli cli) {
    this.cli = cli;
  }

  /** Inherited by every subcommand, so that {@code -v} may come before or after the command's name. */
  @Option(names = {"-v", "--verbose"}, scope = ScopeType.INHERIT,
      description = "Show kv2pg's log, and stack traces of errors.")
  void verbose(boolean verbose) {
    if (verbose) {
      cli.verbose = true;
    }
  }

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getErr());
    throw new CliException(Main.USAGE, "a command is required: demo, sync, follow, verify, status, dead-letters or reset");
  }
}
