package io.kv2pg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.kv2pg.StoreFiles;
import io.kv2pg.TestPostgres;
import io.kv2pg.TestStore;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code sync} and {@code verify} open the store read-only: a stopped store's folder is byte for
 * byte the same afterwards (names, sizes, SHA-256), and so after {@code sync} refused a store
 * without WAL retention, which leaves Postgres untouched too.
 */
class ReadOnlyStoreTest {
  @TempDir Path dir;

  @Test
  void syncAndVerifyLeaveAStoppedStoreUnchanged() throws Exception {
    OneTable table = new OneTable(dir);
    table.write(0, 2_000, 100, "first");
    Map<String, String> before = StoreFiles.fingerprint(table.store);
    CliRun.Result sync = CliRun.run(table.env, "sync", "--config", table.config.toString());
    assertThat(sync.exitCode()).as(sync.toString()).isZero();
    CliRun.Result verify = CliRun.run(table.env, "verify", "--config", table.config.toString());
    assertThat(verify.exitCode()).as(verify.toString()).isZero();
    assertThat(StoreFiles.fingerprint(table.store)).as("the store's files after sync and verify").isEqualTo(before);
    table.assertTableEqualsStore();
  }

  @Test
  void aRefusalForMissingWalRetentionTouchesNothing() throws Exception {
    OneTable table = new OneTable(dir);
    try (TestStore store = TestStore.openWithoutWalRetention(table.store, "items")) {
      store.db.put(store.family("items"), new byte[8], "x".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    Map<String, String> before = StoreFiles.fingerprint(table.store);
    CliRun.Result sync = CliRun.run(table.env, "sync", "--config", table.config.toString());
    assertThat(sync.exitCode()).as(sync.toString()).isEqualTo(2);
    assertThat(sync.err()).contains("WAL_ttl_seconds").contains("WAL_size_limit_MB");
    CliRun.Result follow = CliRun.run(table.env, "follow", "--config", table.config.toString());
    assertThat(follow.exitCode()).as(follow.toString()).isEqualTo(2);
    assertThat(follow.err()).contains("WAL_ttl_seconds");
    assertThat(StoreFiles.fingerprint(table.store)).as("the store's files after the refusals").isEqualTo(before);
    assertThat(TestPostgres.query(table.url, "select count(*) from pg_namespace where nspname = 'kv2pg'"))
        .containsExactly(List.of(0L));
  }
}
