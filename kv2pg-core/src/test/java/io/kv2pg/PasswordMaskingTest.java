package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rocksdb.ColumnFamilyHandle;

/**
 * Passwords are masked by structure (the URL's password parameter as a whole), whatever their
 * characters: never by searching for the password, which for {@code 1} or the user's own name
 * would garble every message and give the password away.
 */
class PasswordMaskingTest {
  private static final Duration WAIT = Duration.ofSeconds(120);

  @TempDir Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"1", "masked_user", "postgres", "a;b&c=d", "p@ss word", "\"quoted\"", "100%"})
  void aPasswordNeverShowsInToStringStatusOrErrors(String password) throws Exception {
    String admin = TestPostgres.newDatabase();
    String database = admin.substring(admin.lastIndexOf('/') + 1, admin.indexOf('?'));
    String user = "masked_user_" + database;
    TestPostgres.execute(admin, "create role " + user + " login password '" + password.replace("'", "''") + "';"
        + " grant create on database " + database + " to " + user + ";"
        + " grant create, usage on schema public to " + user);
    String encoded = URLEncoder.encode(password, StandardCharsets.UTF_8);
    String base = admin.substring(0, admin.indexOf('?'));
    String url = base + "?user=" + user + "&password=" + encoded + "&ApplicationName=masking";
    String masked = base + "?user=" + user + "&password=***&ApplicationName=masking";

    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      store.db.put(cf, ByteBuffer.allocate(8).putLong(1).array(), new byte[] {1});
      Replication replication = Replication.builder().postgres(url).source(store.db).name("masking")
          .tree(TreeMapping.builder(cf)
              .createCommands("create table if not exists t (id bigint primary key, v bytea)")
              .insert("insert into t values ($1, $2) on conflict (id) do update set v = excluded.v",
                  (key, value) -> Params.of(ByteBuffer.wrap(key).getLong(), value))
              .remove("delete from t where id = $1", key -> Params.of(ByteBuffer.wrap(key).getLong()))
              .build())
          .build();
      assertThat(replication.toString()).contains("postgres=" + masked);
      assertHidden(replication.toString(), password, encoded);

      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, WAIT, "copy");
        store.db.put(cf, ByteBuffer.allocate(8).putLong(2).array(), new byte[] {2});
        Await.caughtUp(running, WAIT, "stream");
        assertHidden(running.status().toString(), password, encoded);
        assertHidden(running.toString(), password, encoded);
      }
      assertThat(TestPostgres.query(admin, "select id from t order by id")).containsExactly(List.of(1L), List.of(2L));
    }

    String wrongScheme = "jdbc:mysql://host/db?user=" + user + "&password=" + encoded;
    assertThatThrownBy(() -> Replication.builder().postgres(wrongScheme))
        .hasMessageEndingWith("but starts with 'jdbc:mysql:'")
        .satisfies(error -> assertHidden(error.getMessage(), password, encoded));
  }

  /** A short password ("1") may stand in a port or a database name; a longer one may not. */
  private static void assertHidden(String text, String password, String encoded) {
    assertThat(text).doesNotContain("password=" + encoded).doesNotContain("password=" + password);
    if (password.length() > 3 && !password.startsWith("masked_user") && !password.equals("postgres")) {
      assertThat(text).doesNotContain(password).doesNotContain(encoded);
    }
  }
}
