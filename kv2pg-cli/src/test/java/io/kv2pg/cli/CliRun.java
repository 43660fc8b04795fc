package io.kv2pg.cli;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * Runs the CLI's entry point in this JVM and captures what it prints, and kv2pg's log.
 *
 * <p>slf4j-simple fixes a logger's level when the logger is created, once per JVM, so the tests
 * cannot switch the log on for {@code -v} runs only: kv2pg's own loggers ({@code io.kv2pg.*})
 * log at INFO for every run, as with {@code -v}. slf4j-simple writes to {@code System.err}
 * (looked up at every line), which a run captures apart from what the CLI itself prints.
 */
final class CliRun {
  static {
    System.setProperty("org.slf4j.simpleLogger.log.io.kv2pg", "info");
    System.setProperty(Main.ENGINE_LOG_LEVEL, "info");
    Main.configureLogging(false);
  }

  /**
   * What a run returned and printed.
   *
   * @param out what the CLI printed on its standard output
   * @param err what the CLI printed on its standard error
   * @param log what was written to {@code System.err} during the run: kv2pg's log lines
   */
  record Result(int exitCode, String out, String err, String log) {
    /** Everything: standard output, standard error and the log. */
    String all() {
      return out + err + log;
    }

    @Override
    public String toString() {
      return "exit code " + exitCode + "\n--- stdout:\n" + out + "--- stderr:\n" + err + "--- log:\n" + log;
    }
  }

  private CliRun() {}

  static Result run(String... args) {
    return run(Map.of(), args);
  }

  static Result run(Map<String, String> env, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    Map<String, String> environment = new HashMap<>(env);
    int code;
    PrintStream systemErr = System.err;
    try (PrintStream outStream = new PrintStream(out, true, StandardCharsets.UTF_8);
        PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8);
        PrintStream logStream = new PrintStream(new TeeStream(log, systemErr), true, StandardCharsets.UTF_8)) {
      System.setErr(logStream);
      try {
        code = Main.run(args, outStream, errStream, environment::get, false);
      } finally {
        System.setErr(systemErr);
      }
    }
    return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8),
        log.toString(StandardCharsets.UTF_8));
  }

  /** Writes to a buffer and, as before, to the test's own standard error. */
  private static final class TeeStream extends OutputStream {
    private final ByteArrayOutputStream copy;
    private final PrintStream original;

    TeeStream(ByteArrayOutputStream copy, PrintStream original) {
      this.copy = copy;
      this.original = original;
    }

    @Override
    public synchronized void write(int b) {
      copy.write(b);
      original.write(b);
    }

    @Override
    public synchronized void write(byte[] bytes, int offset, int length) {
      copy.write(bytes, offset, length);
      original.write(bytes, offset, length);
    }

    @Override
    public void flush() {
      original.flush();
    }

    @Override
    public void close() {
      original.flush(); // the test's standard error stays open
    }
  }

  /** The environment that gives a URL's password as PGPASSWORD, if it has one. */
  static Map<String, String> passwordOf(String url) {
    java.util.regex.Matcher matcher = java.util.regex.Pattern.compile("[?&]password=([^&]*)").matcher(url);
    return matcher.find()
        ? Map.of("PGPASSWORD", java.net.URLDecoder.decode(matcher.group(1), StandardCharsets.UTF_8))
        : Map.of();
  }

  /** The URL without its password parameter. */
  static String withoutPassword(String url) {
    return url.replaceAll("([?&])password=[^&]*&?", "$1").replaceAll("[?&]$", "");
  }
}
