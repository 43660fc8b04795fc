package io.kv2pg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.kv2pg.TestPostgres;
import io.kv2pg.TestStore;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Whatever characters a password holds, no CLI run prints it: not on standard output, not in an
 * error or its stack trace ({@code -v}), not in kv2pg's log. The password is checked by the server
 * (the roles this test creates must authenticate, see {@link #requirePasswords}), so a run that
 * succeeds has really passed it on; each run's outcome is checked too.
 */
class CliPasswordMaskingTest {
  /** Stands for the password that is the role's own name. */
  private static final String USER_NAME = "<the role's own name>";
  /** The group of this test's roles, which the server makes give their password. */
  private static final String GROUP = "kv2pg_masked_login";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static boolean passwordsRequired;
  /** "password=" unless the whole value after it is "***" (up to '&', the end or a delimiter). */
  private static final Pattern UNMASKED = Pattern.compile("password=(?!\\*\\*\\*(?:&|$|[\\s,.:;\\])}'\"]))");

  @TempDir Path dir;
  private Path store;
  private String admin;
  private String user;
  private String password;
  private String encoded;

  @ParameterizedTest
  @ValueSource(strings = {"1", USER_NAME, "postgres", "a;b&c=d", "p@ss word", "\"quoted\"", "100%"})
  void noRunShowsThePassword(String given) throws Exception {
    admin = TestPostgres.newDatabase();
    String database = admin.substring(admin.lastIndexOf('/') + 1, admin.indexOf('?'));
    user = "masked_" + database;
    password = given.equals(USER_NAME) ? user : given;
    encoded = URLEncoder.encode(password, StandardCharsets.UTF_8);
    requirePasswords(admin);
    TestPostgres.execute(admin, "create role " + user + " login password '" + password.replace("'", "''")
        + "' in role " + GROUP + "; grant create on database " + database + " to " + user
        + "; grant create, usage on schema public to " + user);
    String base = admin.substring(0, admin.indexOf('?'));
    String url = base + "?user=" + user;
    String unreachable = "jdbc:postgresql://127.0.0.1:1/" + database + "?user=" + user;
    Map<String, String> env = Map.of("KV2PG_TEST_PW", password);
    Map<String, String> wrongEnv = Map.of("KV2PG_TEST_PW", password + "-wrong");
    store = dir.resolve("store");
    write(1, 20);

    // 1. The password from password-env: a first sync copies, a second one streams; verify, status.
    Path fromEnv = config("from-env.yaml", url, true);
    CliRun.Result copy = run(env, "sync", "-v", "--config", fromEnv.toString());
    assertThat(copy.exitCode()).as(copy.toString()).isZero();
    assertThat(copy.out()).as(copy.toString()).contains("sync: first run of this replication: copying the store")
        .contains("sync: caught up");
    assertThat(copy.log()).as("kv2pg's log is captured").contains("kv2pg[masking]: copied mapping 'items': 19 rows");
    assertTableEqualsStore(19);

    write(15, 30);
    delete(3);
    CliRun.Result stream = run(env, "sync", "-v", "--config", fromEnv.toString());
    assertThat(stream.exitCode()).as(stream.toString()).isZero();
    assertThat(stream.out()).as(stream.toString()).contains("sync: resuming after sequence").contains("sync: caught up")
        .doesNotContain("initial copy");
    assertThat(stream.log()).as(stream.toString()).contains("kv2pg[masking]: streaming from sequence");
    assertTableEqualsStore(28);

    CliRun.Result verify = run(env, "verify", "-v", "--config", fromEnv.toString());
    assertThat(verify.exitCode()).as(verify.toString()).isZero();
    assertThat(verify.out()).contains("verify: the table of replication 'masking' equals the store");

    CliRun.Result status = run(env, "status", "-v", "--config", fromEnv.toString());
    assertStatusShowsTheReplication(status);
    CliRun.Result statusOption = run(env, "status", "-v", "--postgres", url, "--password-env", "KV2PG_TEST_PW");
    assertStatusShowsTheReplication(statusOption);

    // 2. to 4. The password in the URL, in two spellings: URL-encoded, and as users write it (raw,
    // escaping only what pgjdbc's URL decoding needs: '%', '&', '+').
    long rows = 28;
    for (String spelling : List.of(encoded, asWritten(password))) {
      String withPassword = url + "&password=" + spelling;
      String wrong = url + "&password=" + asWritten(password + "-wrong");

      // 2. sync (config only: sync has no --postgres), verify, and status both ways.
      Path inUrl = config("in-url.yaml", withPassword, false);
      write(100 + rows, 105 + rows);
      rows += 5;
      CliRun.Result urlSync = run(Map.of(), "sync", "-v", "--config", inUrl.toString());
      assertThat(urlSync.exitCode()).as(urlSync.toString()).isZero();
      assertThat(urlSync.out()).as(urlSync.toString()).contains("sync: resuming after sequence")
          .contains(" into " + url + "&password=***\n");
      assertTableEqualsStore((int) rows);
      CliRun.Result urlVerify = run(Map.of(), "verify", "-v", "--config", inUrl.toString());
      assertThat(urlVerify.exitCode()).as(urlVerify.toString()).isZero();
      assertStatusShowsTheReplication(run(Map.of(), "status", "-v", "--config", inUrl.toString()));
      CliRun.Result urlStatus = run(Map.of(), "status", "-v", "--postgres", withPassword);
      assertStatusShowsTheReplication(urlStatus);
      assertThat(urlStatus.out()).contains("Replications in " + url + "&password=***:");

      // 3. Failures: the right user with a wrong password, and a server that cannot be reached.
      write(1_000, 1_005); // what the failed runs must not write
      assertAuthenticationFails(run(wrongEnv, "sync", "-v", "--config", fromEnv.toString()));
      assertAuthenticationFails(run(Map.of(), "sync", "-v", "--config",
          config("wrong-in-url.yaml", wrong, false).toString()));
      assertAuthenticationFails(run(wrongEnv, "status", "-v", "--postgres", url, "--password-env", "KV2PG_TEST_PW"));
      assertAuthenticationFails(run(Map.of(), "status", "-v", "--postgres", wrong));
      assertTableEqualsStoreBelow(1_000, (int) rows);
      deleteFrom(1_000);

      assertUnreachable(run(env, "sync", "-v", "--config", config("unreachable.yaml", unreachable, true).toString()));
      assertUnreachable(run(Map.of(), "sync", "-v", "--config",
          config("unreachable-in-url.yaml", unreachable + "&password=" + spelling, false).toString()));
      assertUnreachable(run(env, "status", "-v", "--postgres", unreachable, "--password-env", "KV2PG_TEST_PW"));
      CliRun.Result unreachableInUrl = run(Map.of(), "status", "-v", "--postgres",
          unreachable + "&password=" + spelling);
      assertUnreachable(unreachableInUrl);
      assertThat(unreachableInUrl.err()).contains(unreachable + "&password=***");

      // 4. Command lines picocli refuses while a URL with a password is among the arguments.
      assertUsageError(run(Map.of(), "sync", "-v", "--config", inUrl.toString(), "--postgres", withPassword),
          "Unknown options: '--postgres'");
      assertUsageError(run(Map.of(), "status", "-v", "--postgres", withPassword, "--config", inUrl.toString()),
          "mutually exclusive");
      assertUsageError(run(Map.of(), "status", "-v", "--postgres", withPassword, "--postgres", withPassword),
          "--postgres");
      assertUsageError(run(Map.of(), "status", "-v", "--postgres", withPassword, withPassword), "Unmatched argument");
      assertUsageError(run(Map.of(), "verify", "-v", "--config", inUrl.toString(), withPassword),
          "Unmatched argument");
      assertUsageError(run(Map.of(), "status", "-v", "--postgres=" + withPassword, "--samples", "3"),
          "Unknown option");
    }
  }

  /** A password as a user writes it in a URL: raw, but for what pgjdbc's URL decoding needs escaped. */
  private static String asWritten(String password) {
    return password.replace("%", "%25").replace("&", "%26").replace("+", "%2B");
  }

  private static void assertUsageError(CliRun.Result result, String fragment) {
    assertThat(result.exitCode()).as(result.toString()).isEqualTo(Main.USAGE);
    assertThat(result.err()).as(result.toString()).startsWith("kv2pg: ").contains(fragment);
  }

  /** Runs the CLI and checks that nothing it printed or logged shows the password. */
  private CliRun.Result run(Map<String, String> env, String... args) {
    CliRun.Result result = CliRun.run(env, args);
    String all = result.all();
    String description = String.join(" ", args) + " with password " + password + ":\n" + result;
    String written = asWritten(password);
    assertThat(all).as(description).doesNotContain("password=" + password).doesNotContain("password=" + encoded)
        .doesNotContain("password=" + written);
    assertThat(UNMASKED.matcher(all).find()).as("a password value not masked whole in: %s", description).isFalse();
    // A short password ("1") may stand in a port or a sequence number, the user's name or
    // "postgres" in the URL; a longer one may not show at all.
    if (password.length() > 3 && !password.equals(user) && !password.equals("postgres")) {
      assertThat(all).as(description).doesNotContain(password).doesNotContain(encoded).doesNotContain(written);
    }
    return result;
  }

  private static void assertStatusShowsTheReplication(CliRun.Result status) {
    assertThat(status.exitCode()).as(status.toString()).isZero();
    assertThat(status.out()).as(status.toString()).containsPattern("masking\\s+\\|\\s+stopped\\s+\\|");
  }

  private void assertAuthenticationFails(CliRun.Result result) {
    assertThat(result.exitCode()).as(result.toString()).isEqualTo(Main.USAGE);
    assertThat(result.err()).as(result.toString()).startsWith("kv2pg: cannot connect to PostgreSQL at ")
        .contains("password authentication failed for user \"" + user + "\"")
        .contains("\tat "); // -v: the stack trace follows
    // The whole sentence survives: nothing after a masked password is cut off.
    assertThat(result.err().lines().findFirst().orElseThrow()).as(result.toString()).endsWith("[SQLSTATE 28P01]");
  }

  private static void assertUnreachable(CliRun.Result result) {
    assertThat(result.exitCode()).as(result.toString()).isEqualTo(Main.USAGE);
    assertThat(result.err()).as(result.toString())
        .startsWith("kv2pg: cannot connect to PostgreSQL at jdbc:postgresql://127.0.0.1:1/").contains("\tat ");
    assertThat(result.err().lines().findFirst().orElseThrow()).as(result.toString()).endsWith("[SQLSTATE 08001]");
  }

  private Path config(String name, String url, boolean passwordEnv) throws Exception {
    Path file = dir.resolve(name);
    Files.writeString(file, """
        name: masking
        rocksdb:
          path: store
        postgres:
          url: '%s'
        %s
        tables:
          - column-family: items
            table: items
            key:
              id: int64
            values:
              name: json-text
        """.formatted(url.replace("'", "''"), passwordEnv ? "  password-env: KV2PG_TEST_PW" : ""));
    return file;
  }

  private void write(long from, long to) throws Exception {
    try (TestStore opened = TestStore.open(store, "items")) {
      for (long id = from; id < to; id++) {
        opened.db.put(opened.family("items"), key(id),
            ("{\"name\":\"item " + id + "\",\"n\":" + id + "}").getBytes(StandardCharsets.UTF_8));
      }
    }
  }

  private void delete(long id) throws Exception {
    try (TestStore opened = TestStore.open(store, "items")) {
      opened.db.delete(opened.family("items"), key(id));
    }
  }

  private void deleteFrom(long id) throws Exception {
    try (TestStore opened = TestStore.open(store, "items")) {
      opened.db.deleteRange(opened.family("items"), key(id), key(Long.MAX_VALUE));
    }
  }

  private static byte[] key(long id) {
    return ByteBuffer.allocate(8).putLong(id).array();
  }

  /** Every row of the table equals the store's entry, all columns, and there are {@code rows}. */
  private void assertTableEqualsStore(int rows) throws Exception {
    assertTableEqualsStoreBelow(Long.MAX_VALUE, rows);
  }

  /** The table holds exactly the store's entries with ids below {@code limit}, {@code rows} of them. */
  private void assertTableEqualsStoreBelow(long limit, int rows) throws Exception {
    List<List<Object>> expected = new ArrayList<>();
    try (TestStore opened = TestStore.open(store, "items")) {
      for (byte[][] entry : opened.entries("items", new byte[0])) {
        if (ByteBuffer.wrap(entry[0]).getLong() >= limit) {
          continue;
        }
        expected.add(List.of(ByteBuffer.wrap(entry[0]).getLong(), JSON.readTree(entry[1]).get("name").asText(),
            HexFormat.of().formatHex(entry[0])));
      }
    }
    assertThat(expected).hasSize(rows);
    assertThat(TestPostgres.query(admin, "select id, name, encode(kv_key, 'hex') from items order by kv_key"))
        .isEqualTo(expected);
  }

  /**
   * Makes the server ask this test's roles for their password. An embedded server trusts every
   * local connection, so a rule for the group goes first in its pg_hba.conf; the check after it
   * proves that a wrong password is refused.
   */
  private static synchronized void requirePasswords(String admin) throws Exception {
    if (passwordsRequired) {
      return;
    }
    TestPostgres.execute(admin, "do $$ begin if not exists (select from pg_roles where rolname = '" + GROUP
        + "') then create role " + GROUP + " nologin; end if; end $$");
    String probe = "masked_probe_" + ProcessHandle.current().pid();
    TestPostgres.execute(admin, "drop role if exists " + probe + "; create role " + probe
        + " login password 'right' in role " + GROUP);
    String probeUrl = admin.substring(0, admin.indexOf('?')) + "?user=" + probe + "&password=wrong";
    if (connects(probeUrl)) {
      Path hba = Path.of((String) TestPostgres.query(admin, "show hba_file").get(0).get(0));
      assertThat(hba).as("the server trusts every connection; its pg_hba.conf must be writable here").isWritable();
      Files.writeString(hba, "host all +" + GROUP + " all md5\n" + Files.readString(hba));
      TestPostgres.query(admin, "select pg_reload_conf()");
      long deadline = System.nanoTime() + 30_000_000_000L;
      while (connects(probeUrl)) { // the server reloads its configuration soon after
        assertThat(System.nanoTime()).as("the server still accepts a wrong password").isLessThan(deadline);
      }
    }
    assertThat(connects(probeUrl.replace("password=wrong", "password=right"))).isTrue();
    passwordsRequired = true;
  }

  private static boolean connects(String url) {
    try (var connection = DriverManager.getConnection(url)) {
      return true;
    } catch (SQLException e) {
      if ("28P01".equals(e.getSQLState())) {
        return false;
      }
      throw new IllegalStateException("cannot connect to " + url + ": " + e.getMessage(), e);
    }
  }
}
