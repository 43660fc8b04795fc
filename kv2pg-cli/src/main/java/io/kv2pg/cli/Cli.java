package io.kv2pg.cli;

import io.kv2pg.ReplicationException;
import java.io.PrintWriter;
import java.util.List;
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
  /** Whether someone sits at a terminal who can answer a question (even one without escape codes). */
  final boolean interactive;
  /** Whether standard output is a terminal that understands escape codes (live progress, colours). */
  final boolean terminal;
  /** Ctrl-C and SIGTERM: installed by {@link Main#main}, none when run inside another program. */
  final Interrupts interrupts;
  /** How the user runs kv2pg, such as {@code ./kv2pg}: for the commands the CLI suggests. */
  final String command;
  volatile boolean verbose;

  Cli(java.io.BufferedReader in, PrintWriter out, PrintWriter err, Function<String, String> env,
      boolean interactive, boolean terminal, Interrupts interrupts, String command) {
    this.interactive = interactive;
    this.in = in;
    this.out = out;
    this.err = err;
    this.env = env;
    this.terminal = terminal;
    this.interrupts = interrupts;
    this.command = command;
  }

  /**
   * Prints an error as one line (plus the stack trace when verbose) and returns its exit code; a
   * config file with several problems gets a line for each, after a line that counts them.
   */
  int report(Throwable error, boolean verbose) {
    int code;
    String message;
    List<String> more = List.of();
    if (error instanceof CliException e) {
      code = e.exitCode();
      message = e.getMessage();
    } else if (error instanceof ConfigException e) {
      code = Main.USAGE;
      message = e.getMessage();
      if (e.problems().size() > 1) {
        more = e.problems();
      }
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
    err.println("kv2pg: " + oneLine(message));
    for (String problem : more) {
      err.println("kv2pg: " + oneLine(problem));
    }
    if (verbose) {
      error.printStackTrace(err);
    }
    err.flush();
    return code;
  }

  /**
   * The message on one line: Postgres' messages carry their detail, hint and position on lines
   * of their own, and kv2pg's table check lists differences one per line.
   */
  static String oneLine(String message) {
    if (message == null) {
      return "(no message)";
    }
    return message.strip()
        .replaceAll(":[ \\t]*\\R\\s*-\\s+", ": ") // "...:" then "  - first" on the next line
        .replaceAll("\\s*\\R\\s*-\\s+", "; ") // "  - next" on a line of its own
        .replaceAll("([.:;,])[ \\t]*\\R\\s*", "$1 ") // a line that ends a sentence or a clause
        .replaceAll("\\s*\\R\\s*", ". "); // a line that ends without punctuation
  }
}
