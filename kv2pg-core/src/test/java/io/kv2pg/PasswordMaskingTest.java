package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rocksdb.ColumnFamilyHandle;
import org.slf4j.LoggerFactory;

/**
 * Passwords are masked by structure (the URL's password parameter as a whole), whatever their
 * characters: never by searching for the password, which for {@code 1} or the user's own name
 * would garble every message and give the password away.
 */
class PasswordMaskingTest {
  private static final Duration WAIT = Duration.ofSeconds(120);

  @TempDir Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"1", "$USER", "postgres", "a;b&c=d", "p@ss word", "\"quoted\"", "100%"})
  void aPasswordNeverShowsInLogsToStringStatusOrErrors(String passwordSpec) throws Exception {
    String admin = TestPostgres.newDatabase();
    String database = admin.substring(admin.lastIndexOf('/') + 1, admin.indexOf('?'));
    String user = "masked_user_" + database;
    String password = passwordSpec.equals("$USER") ? user : passwordSpec;
    TestPostgres.execute(admin, "create role " + user + " login password '" + password.replace("'", "''") + "';"
        + " grant create on database " + database + " to " + user + ";"
        + " grant create, usage on schema public to " + user);
    // As a user writes it: raw, but for what pgjdbc's URL decoding needs escaped ('%', '&', '+').
    String encoded = password.replace("%", "%25").replace("&", "%26").replace("+", "%2B");
    String base = admin.substring(0, admin.indexOf('?'));
    String url = base + "?user=" + user + "&password=" + encoded + "&ApplicationName=masking";
    String masked = base + "?user=" + user + "&password=***&ApplicationName=masking";
    List<String> texts = new ArrayList<>();

    String logText;
    try (LogCapture log = new LogCapture(); TestStore store = TestStore.open(dir, "cf1")) {
      LoggerFactory.getLogger(PasswordMaskingTest.class).info("log capture works");
      ColumnFamilyHandle cf = store.family("cf1");
      store.db.put(cf, key(1), new byte[] {1});
      Replication replication = replication(url, store, cf);
      assertThat(replication.toString()).contains("postgres=" + masked);
      texts.add(replication.toString());

      // Start, copy, stream, a lost session (retried), a second runner (refused), a bad key (failure).
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, WAIT, "copy");
        store.db.put(cf, key(2), new byte[] {2});
        Await.caughtUp(running, WAIT, "stream");
        TestPostgres.execute(admin, "select pg_terminate_backend(pid) from pg_stat_activity where usename = '"
            + user + "'");
        store.db.put(cf, key(3), new byte[] {3});
        Await.caughtUp(running, WAIT, "after the lost session");
        if (passwordSpec.equals("a;b&c=d")) { // Refused after a 15 s wait for the lock: once is enough.
          try (RunningReplication second = replication.start()) {
            ReplicationException refused = Await.failure(second, WAIT);
            assertThat(refused.getMessage()).contains("already running against " + masked);
            texts.addAll(describe(refused));
          }
        }
        texts.add(running.status().toString());
        texts.add(running.toString());
        store.db.put(cf, key(BAD_KEY), new byte[] {4});
        texts.addAll(describe(Await.failure(running, WAIT)));
        texts.add(running.status().toString());
      }
      assertThat(TestPostgres.query(admin, "select id from t order by id"))
          .containsExactly(List.of(1L), List.of(2L), List.of(3L));

      // Postgres unreachable: retried, shown by waitingFor.
      Replication unreachable = replication(
          "jdbc:postgresql://127.0.0.1:1/nowhere?user=" + user + "&password=" + encoded, store, cf);
      texts.add(unreachable.toString());
      RunningReplication waiting = unreachable.start();
      try {
        Await.condition(WAIT, "status says Postgres is unreachable",
            () -> waiting.status().waitingFor().isPresent());
        texts.add(waiting.status().toString());
      } finally {
        waiting.stop(Duration.ofSeconds(5));
      }
      logText = log.text();
    }
    assertThat(logText).contains("log capture works").contains("retrying").contains("[masking]: failed: ");
    texts.add(logText);

    String wrongScheme = "jdbc:mysql://host/db?user=" + user + "&password=" + encoded;
    assertThatThrownBy(() -> Replication.builder().postgres(wrongScheme))
        .hasMessageEndingWith("but starts with 'jdbc:mysql:'")
        .satisfies(error -> texts.addAll(describe(error)));
    for (String text : texts) {
      assertHidden(text, password, encoded, user);
    }
  }

  private static final long BAD_KEY = 4;

  private static Replication replication(String url, TestStore store, ColumnFamilyHandle cf) {
    return Replication.builder().postgres(url).source(store.db).name("masking")
        .tree(TreeMapping.builder(cf)
            .createCommands("create table if not exists t (id bigint primary key, v bytea)")
            .insert("insert into t values ($1, $2) on conflict (id) do update set v = excluded.v",
                (key, value) -> {
                  long id = ByteBuffer.wrap(key).getLong();
                  if (id == BAD_KEY) {
                    throw new IllegalArgumentException("key " + id + " is not wanted");
                  }
                  return Params.of(id, value);
                })
            .remove("delete from t where id = $1", key -> Params.of(ByteBuffer.wrap(key).getLong()))
            .build())
        .build();
  }

  private static byte[] key(long id) {
    return ByteBuffer.allocate(8).putLong(id).array();
  }

  /** The error's message and string form, and those of every cause and suppressed error. */
  private static List<String> describe(Throwable error) {
    List<String> texts = new ArrayList<>();
    for (Throwable t = error; t != null; t = t.getCause()) {
      texts.add(String.valueOf(t.getMessage()));
      texts.add(t.toString());
      for (Throwable suppressed : t.getSuppressed()) {
        texts.addAll(describe(suppressed));
      }
    }
    return texts;
  }

  /** A short password ("1") may stand in a port or a database name; a longer one may not. */
  /** Matches "password=" unless the whole value after it is "***" (up to '&', the end or a delimiter). */
  private static final Pattern UNMASKED = Pattern.compile("password=(?!\\*\\*\\*(?:&|$|[\\s,\\])}'\"]))");

  private static void assertHidden(String text, String password, String encoded, String user) {
    assertThat(text).doesNotContain("password=" + encoded).doesNotContain("password=" + password);
    assertThat(UNMASKED.matcher(text).find()).as("a password value not masked whole in: %s", text).isFalse();
    if (password.length() > 3 && !password.equals(user) && !password.equals("postgres")) {
      assertThat(text).doesNotContain(password).doesNotContain(encoded);
    }
  }
}
