package io.kv2pg.cli;

import io.kv2pg.internal.engine.ReplicationEngine;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.Function;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

/**
 * The {@code kv2pg} command line: {@code demo}, {@code sync}, {@code verify}, {@code status}.
 *
 * <p>Exit codes: 0 success, 1 a difference or a failure found, 2 a usage or configuration error,
 * 130 ended by Ctrl-C (SIGINT), 143 ended by SIGTERM (see {@link Interrupts}). An error prints one
 * line; {@code -v} adds the stack trace and kv2pg's log.
 */
public final class Main {
  /** Exit code: success. */
  public static final int OK = 0;
  /** Exit code: a difference or a replication failure was found. */
  public static final int FOUND = 1;
  /** Exit code: bad usage or configuration (including an unreachable database or a store in use). */
  public static final int USAGE = 2;
  /** Exit code: stopped by Ctrl-C (SIGINT), 128 plus the signal's number. */
  public static final int SIGINT = 130;
  /** Exit code: stopped by SIGTERM, 128 plus the signal's number. */
  public static final int SIGTERM = 143;

  /** The slf4j-simple setting for the replication engine's log, whose failures the CLI reports itself. */
  static final String ENGINE_LOG_LEVEL = "org.slf4j.simpleLogger.log." + ReplicationEngine.class.getName();

  private Main() {}

  public static void main(String[] args) {
    boolean verbose = Arrays.stream(args).anyMatch(arg -> arg.equals("-v") || arg.equals("--verbose"));
    configureLogging(verbose);
    PrintStream out = System.out;
    boolean terminal = System.console() != null;
    Interrupts interrupts = Interrupts.install(System.err);
    int code = run(args, out, System.err, System.getenv()::get, terminal, interrupts);
    out.flush();
    System.exit(code);
  }

  /**
   * Runs the command line without exiting the JVM, for tests and embedding.
   *
   * @param env reads environment variables (for {@code password-env})
   * @param terminal whether {@code out} is an interactive terminal (live progress) or not (log lines)
   * @return the exit code
   */
  public static int run(String[] args, PrintStream out, PrintStream err, Function<String, String> env,
      boolean terminal) {
    return run(args, out, err, env, terminal, Interrupts.none());
  }

  static int run(String[] args, PrintStream out, PrintStream err, Function<String, String> env,
      boolean terminal, Interrupts interrupts) {
    return run(args, System.in, out, err, env, terminal, interrupts);
  }

  /** As {@link #run(String[], PrintStream, PrintStream, Function, boolean)}, reading {@code in} for confirmations. */
  static int run(String[] args, java.io.InputStream in, PrintStream out, PrintStream err, Function<String, String> env,
      boolean terminal, Interrupts interrupts) {
    PrintWriter outWriter = new PrintWriter(new java.io.OutputStreamWriter(out, StandardCharsets.UTF_8), true);
    PrintWriter errWriter = new PrintWriter(new java.io.OutputStreamWriter(err, StandardCharsets.UTF_8), true);
    Cli cli = new Cli(new java.io.BufferedReader(new java.io.InputStreamReader(in, StandardCharsets.UTF_8)),
        outWriter, errWriter, env, terminal, terminal && !dumbTerminal(env), interrupts, commandName(env));
    CommandLine commandLine = commandLine(cli);
    commandLine.setOut(outWriter);
    commandLine.setErr(errWriter);
    commandLine.setExecutionExceptionHandler((e, line, parsed) -> {
      boolean verbose = cli.verbose || Arrays.asList(args).contains("-v") || Arrays.asList(args).contains("--verbose");
      return cli.report(e, verbose);
    });
    try {
      return commandLine.execute(args);
    } finally {
      outWriter.flush();
      errWriter.flush();
    }
  }

  /**
   * The command line, its help laid out by {@link HelpLayout}, in colour only on a terminal that
   * shows colours ({@code TERM} set and not {@code dumb}, no {@code NO_COLOR}): picocli's own
   * choice ({@code Ansi.AUTO}) also colours output that is not a terminal when {@code
   * CLICOLOR_FORCE} or {@code -Dpicocli.ansi=true} says so, and a terminal with {@code TERM=dumb}
   * shows the escape codes as they are.
   */
  static CommandLine commandLine(Cli cli) {
    CommandLine commandLine = new CommandLine(new RootCommand(cli), new CommandLine.IFactory() {
      @Override
      public <K> K create(Class<K> type) throws Exception {
        K instance = CommandLine.defaultFactory().create(type);
        if (instance instanceof CliCommand command) {
          command.cli = cli;
        }
        return instance;
      }
    });
    boolean colour = cli.terminal && isBlank(cli.env.apply("NO_COLOR"));
    // Colours only, no bold: picocli ends bold with code 21, which many terminals take for a
    // double underline.
    commandLine.setColorScheme(new CommandLine.Help.ColorScheme.Builder(
        colour ? CommandLine.Help.Ansi.ON : CommandLine.Help.Ansi.OFF)
        .commands(CommandLine.Help.Ansi.Style.fg_cyan)
        .options(CommandLine.Help.Ansi.Style.fg_yellow)
        .parameters(CommandLine.Help.Ansi.Style.fg_yellow)
        .optionParams(CommandLine.Help.Ansi.Style.fg_green)
        .errors(CommandLine.Help.Ansi.Style.fg_red)
        .stackTraces(CommandLine.Help.Ansi.Style.fg_red)
        .build());
    commandLine.setCaseInsensitiveEnumValuesAllowed(true);
    commandLine.setParameterExceptionHandler(Main::usageError);
    HelpLayout.apply(commandLine);
    return commandLine;
  }

  /** A terminal that does not understand escape codes (Emacs' shell, some CI consoles). */
  private static boolean dumbTerminal(Function<String, String> env) {
    String term = env.apply("TERM");
    return term == null || term.isBlank() || term.equals("dumb");
  }

  /**
   * How the user runs kv2pg, for the commands it suggests: {@code KV2PG_COMMAND}, which the
   * {@code kv2pg} launcher sets to the name it was run by (such as {@code ./kv2pg}); else {@code
   * java -jar} and the jar when run from one; else {@code kv2pg}.
   */
  static String commandName(Function<String, String> env) {
    String given = env.apply("KV2PG_COMMAND");
    if (!isBlank(given)) {
      return given.strip();
    }
    try {
      java.security.CodeSource source = Main.class.getProtectionDomain().getCodeSource();
      if (source != null && source.getLocation() != null) {
        java.nio.file.Path jar = java.nio.file.Path.of(source.getLocation().toURI());
        if (jar.getFileName() != null && jar.getFileName().toString().endsWith(".jar")) {
          java.nio.file.Path here = java.nio.file.Path.of("").toAbsolutePath();
          java.nio.file.Path shown = jar.startsWith(here) ? here.relativize(jar) : jar;
          return "java -jar " + shown;
        }
      }
    } catch (java.net.URISyntaxException | SecurityException | IllegalArgumentException e) {
      // Fall back to the command's name.
    }
    return "kv2pg";
  }

  private static boolean isBlank(String text) {
    return text == null || text.isBlank();
  }

  private static int usageError(ParameterException e, String[] args) {
    CommandLine line = e.getCommandLine();
    PrintWriter err = line.getErr();
    // picocli's messages quote the arguments they refuse, and one may be a URL with its password.
    err.println("kv2pg: " + Redact.text(e.getMessage()));
    if (!CommandLine.UnmatchedArgumentException.printSuggestions(e, err)) {
      err.println("Try '" + line.getCommandSpec().qualifiedName() + " --help' for more information.");
    }
    return USAGE;
  }

  /**
   * Sets up slf4j-simple before the first logger exists: warnings only (and none of the
   * replication's own failure log, which the CLI reports itself), or everything with {@code -v}.
   */
  static void configureLogging(boolean verbose) {
    setIfAbsent("org.slf4j.simpleLogger.logFile", "System.err");
    setIfAbsent("org.slf4j.simpleLogger.showDateTime", "true");
    setIfAbsent("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
    setIfAbsent("org.slf4j.simpleLogger.showThreadName", "false");
    setIfAbsent("org.slf4j.simpleLogger.showShortLogName", "true");
    if (verbose) {
      setIfAbsent("org.slf4j.simpleLogger.defaultLogLevel", "info");
    } else {
      setIfAbsent("org.slf4j.simpleLogger.defaultLogLevel", "warn");
      setIfAbsent(ENGINE_LOG_LEVEL, "off");
      setIfAbsent("org.slf4j.simpleLogger.log.io.zonky", "error");
    }
  }

  private static void setIfAbsent(String key, String value) {
    if (System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }
}
