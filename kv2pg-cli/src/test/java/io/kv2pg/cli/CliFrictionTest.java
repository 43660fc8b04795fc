package io.kv2pg.cli;

import io.kv2pg.TestPostgres;
import io.kv2pg.TestStore;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a new user ran into: where {@code -v} may go, how {@code --help} reads, colours, one-line errors. */
class CliFrictionTest {
  static final List<String> COMMANDS = List.of("", "demo", "sync", "verify", "status", "help");
  static final String UNREACHABLE = "jdbc:postgresql://127.0.0.1:1/nowhere?user=app";

  @TempDir Path dir;

  static CliRun.Result help(String command) {
    return command.isEmpty() ? CliRun.run("--help") : command.equals("help") ? CliRun.run("help", "sync")
        : CliRun.run(command, "--help");
  }

  @Test
  void verboseGoesBeforeOrAfterTheCommand() {
    for (String[] args : List.of(
        new String[] {"-v", "status", "--postgres", UNREACHABLE},
        new String[] {"--verbose", "status", "--postgres", UNREACHABLE},
        new String[] {"status", "-v", "--postgres", UNREACHABLE},
        new String[] {"status", "--postgres", UNREACHABLE, "--verbose"})) {
      CliRun.Result result = CliRun.run(args);
      assertThat(result.exitCode()).as(Arrays.toString(args) + ": " + result).isEqualTo(2);
      assertThat(result.err()).as(Arrays.toString(args) + ": " + result)
          .startsWith("kv2pg: cannot connect to PostgreSQL at " + UNREACHABLE)
          .contains("\tat "); // the stack trace: verbose
    }
    CliRun.Result quiet = CliRun.run("status", "--postgres", UNREACHABLE);
    assertThat(quiet.err().lines().toList()).as(quiet.toString()).hasSize(1);
  }

  /** Every help fits 80 columns, and every word of it (a path like docs/CONFIG.md too) stays whole. */
  @Test
  void helpFitsTheWidthAndSplitsNoWord() {
    for (String command : COMMANDS) {
      CliRun.Result help = help(command);
      assertThat(help.exitCode()).as(command).isZero();
      List<String> lines = help.out().lines().toList();
      assertThat(lines).as(command + ":\n" + help.out()).allSatisfy(line -> assertThat(line.length())
          .as("'" + line + "'").isLessThanOrEqualTo(HelpLayout.WIDTH));
      assertThat(help.out()).as(command).doesNotContainPattern("docs/CONFIG\\.\\s")
          .doesNotContainPattern("docs/\\s").doesNotContainPattern("CONFIG\\s*\\R\\s*\\.md");
      if (command.isEmpty() || command.equals("sync") || command.equals("verify")) {
        assertThat(help.out()).as(command).contains("docs/CONFIG.md");
      }
      // The same help with room for everything on one line: the same words, so no word was split.
      String wide;
      System.setProperty("picocli.usage.width", "2000");
      try {
        wide = help(command).out();
      } finally {
        System.clearProperty("picocli.usage.width");
      }
      assertThat(words(help.out())).as(command + ":\n" + help.out()).isEqualTo(words(wide));
    }
  }

  private static List<String> words(String text) {
    return Arrays.stream(text.split("\\s+")).filter(word -> !word.isEmpty()).toList();
  }

  /**
   * No escape code reaches output that is not a terminal, even when picocli is told that it may
   * colour ({@code picocli.ansi}, as {@code CLICOLOR_FORCE} or a pseudo-terminal would); on a
   * terminal, colours are on unless {@code NO_COLOR} is set or {@code TERM} is {@code dumb}.
   */
  @Test
  void noEscapeCodesUnlessOnAColourTerminal() {
    System.setProperty("picocli.ansi", "true");
    try {
      List<CliRun.Result> results = new ArrayList<>();
      COMMANDS.forEach(command -> results.add(help(command)));
      results.add(CliRun.run("sink"));
      results.add(CliRun.run("status"));
      results.add(CliRun.run("status", "--postgres", UNREACHABLE));
      for (CliRun.Result result : results) {
        assertThat(result.out() + result.err()).as(result.toString()).doesNotContain("\u001B[");
      }
      assertThat(onTerminal(Map.of("TERM", "dumb"), "sync", "--help")).doesNotContain("\u001B[");
      assertThat(onTerminal(Map.of("TERM", "xterm-256color", "NO_COLOR", "1"), "sync", "--help"))
          .doesNotContain("\u001B[");
      assertThat(onTerminal(Map.of("TERM", "xterm-256color"), "sync", "--help")).contains("\u001B[");
    } finally {
      System.clearProperty("picocli.ansi");
    }
  }

  private static String onTerminal(Map<String, String> env, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    try (PrintStream outStream = new PrintStream(out, true, StandardCharsets.UTF_8);
        PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8)) {
      Main.run(args, outStream, errStream, env::get, true);
    }
    return out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8);
  }

  /** Postgres' messages hold their detail and hint on lines of their own; an error still prints one line. */
  @Test
  void aPermissionErrorIsOneLine() throws Exception {
    String admin = TestPostgres.newDatabase();
    String database = admin.substring(admin.lastIndexOf('/') + 1, admin.indexOf('?'));
    String role = "noperm_" + database;
    TestPostgres.execute(admin, "create role " + role + " login; grant create on database " + database + " to "
        + role + "; create schema locked; create schema open;"
        + " grant usage on schema locked to " + role + "; grant usage, create on schema open to " + role
        + "; revoke create on schema public from public; create table open.secret (x int)");
    Path store = dir.resolve("store");
    try (TestStore opened = TestStore.open(store, "users")) {
      opened.db.put(opened.family("users"), ByteBuffer.allocate(8).putLong(1).array(),
          "{\"name\":\"a\"}".getBytes(StandardCharsets.UTF_8));
    }
    String url = admin.substring(0, admin.indexOf('?')) + "?user=" + role;
    // No CREATE on the table's schema; a table that the create commands read without a grant, in
    // a DO block: Postgres adds a "Where:" line to that one.
    Map<String, String> cases = Map.of("locked.users", "",
        "open.users", "    create-commands: do $$ begin perform 1 from open.secret; end $$\n");
    for (Map.Entry<String, String> entry : cases.entrySet()) {
      String table = entry.getKey();
      Path config = Files.writeString(dir.resolve(table + ".yaml"), """
          name: no-permission
          rocksdb:
            path: store
          postgres:
            url: "%s"
          tables:
            - column-family: users
              table: %s
              key:
                id: int64
          %s""".formatted(url, table, entry.getValue()));
      CliRun.Result result = CliRun.run(CliRun.passwordOf(admin), "sync", "--config", config.toString());

      assertThat(result.exitCode()).as(result.toString()).isNotZero();
      assertThat(result.err().lines().toList()).as(result.toString()).hasSize(1);
      assertThat(result.err()).as(result.toString()).startsWith("kv2pg: ")
          .contains(table.startsWith("locked") ? "permission denied for schema locked" : "permission denied for table secret");
    }
  }

  @Test
  void multiLineMessagesAreJoinedIntoOne() {
    assertThat(Cli.oneLine("ERROR: permission denied for schema kv2pg\n  Hint: grant it.\n  Position: 14"))
        .isEqualTo("ERROR: permission denied for schema kv2pg. Hint: grant it. Position: 14");
    assertThat(Cli.oneLine("Table t does not match mapping 'm':\n  - column \"a\" is missing\n"
        + "  - the primary key is missing\nAlter the table, or change the declaration."))
        .isEqualTo("Table t does not match mapping 'm': column \"a\" is missing; the primary key is missing."
            + " Alter the table, or change the declaration.");
    assertThat(Cli.oneLine("one line")).isEqualTo("one line");
  }
}
