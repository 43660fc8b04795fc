package io.kv2pg.cli;

import io.kv2pg.ReplicationException;
import java.io.PrintWriter;
import java.util.function.Function;

/**
 * What every command shares: output streams, the environment, whether output is a terminal, and
 * the signals.
 */
final class Cli {
  final PrintWriter out;
  final PrintWriter err;
  final Function<String, String> env;
  /** The standard input, read for a confirmation on a terminal. */
  final java.io.BufferedReader in;
  final boolean terminal;
  /** Ctrl-C and SIGTERM: installed by {@link Main#main}, none when run inside another program. */
  final Interrupts interrupts;
  volatile boolean verbose;

  Cli(java.io.BufferedReader in, PrintWriter out, PrintWriter err, Function<String, String> env, boolean terminal,
      Interrupts interrupts) {
    this.in = in;
    this.out = out;
    this.err = err;
    this.env = env;
    this.terminal = terminal;
    this.interrupts = interrupts;
  }

  /** Prints an error as one line (plus the stack trace when verbose) and returns its exit code. */
  int report(Throwable error, boolean verbose) {
    int code;
    String message;
    if (error instanceof CliException e) {
      code = e.exitCode();
      message = e.getMessage();
    } else if (error instanceof ConfigException e) {
      code = Main.USAGE;
      message = e.getMessage();
    } else if (error instanceof ReplicationException e) {
      code = Replications.exitCode(e);
      message = e.getMessage();
    } else {
      code = Main.FOUND;
      message = "unexpected error: " + error + (verbose ? "" : " (run with -v for details)");
    }
    out.flush();
    // Not masked again here: every message is built from masked parts (PostgresTarget.display(),
    // core's masked descriptions), and masking a whole sentence as if it were a URL would cut off
    // everything after a masked password.
    err.println("kv2pg: " + message);
    if (verbose) {
      error.printStackTrace(err);
    }
    err.flush();
    return code;
  }
}
