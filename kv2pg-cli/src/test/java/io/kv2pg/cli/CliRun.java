package io.kv2pg.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/** Runs the CLI's entry point in this JVM and captures what it prints. */
final class CliRun {
  static {
    Main.configureLogging(false);
  }

  /** What a run returned and printed. */
  record Result(int exitCode, String out, String err) {
    String all() {
      return out + err;
    }

    @Override
    public String toString() {
      return "exit code " + exitCode + "\n--- stdout:\n" + out + "--- stderr:\n" + err;
    }
  }

  private CliRun() {}

  static Result run(String... args) {
    return run(Map.of(), args);
  }

  static Result run(Map<String, String> env, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    Map<String, String> environment = new HashMap<>(env);
    int code;
    try (PrintStream outStream = new PrintStream(out, true, StandardCharsets.UTF_8);
        PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8)) {
      code = Main.run(args, outStream, errStream, environment::get, false);
    }
    return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
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
