package io.kv2pg.cli;

import java.util.concurrent.Callable;

/**
 * A subcommand: has the CLI's streams and environment. Its {@code -v} is {@link RootCommand}'s,
 * inherited, so that it may come before or after the command's name.
 */
abstract class CliCommand implements Callable<Integer> {
  /** Set by {@link Main}'s factory. */
  Cli cli;

  @Override
  public final Integer call() throws Exception {
    return execute();
  }

  abstract int execute() throws Exception;
}
