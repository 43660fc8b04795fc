package io.kv2pg.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Option;

/** A subcommand: has the CLI's streams and environment, and the {@code -v} option. */
abstract class CliCommand implements Callable<Integer> {
  /** Set by {@link Main}'s factory. */
  Cli cli;

  @Option(names = {"-v", "--verbose"}, description = "Show kv2pg's log, and stack traces of errors.")
  boolean verbose;

  @Override
  public final Integer call() throws Exception {
    cli.verbose = verbose;
    return execute();
  }

  abstract int execute() throws Exception;
}
