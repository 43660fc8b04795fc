package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * Two runners of one replication name: a runner that lost its session while another took over
 * must never commit what it held in memory. Every key carries a version; a trigger records each
 * update that does not increase it, so a double apply shows up as a row in {@code violations}.
 */
class TakeoverTest {
  private static final Duration WAIT = Duration.ofSeconds(120);
  private static final int KEYS = 100;

  @TempDir Path dir;

  @Test
  void aRunnerWhoseSessionDiedDoesNotCommitAfterAnotherRunnerTookOver() throws Exception {
    String admin = TestPostgres.newDatabase();
    String runner = "runner_" + databaseName(admin);
    createVersionedTable(admin, runner);
    String runnerUrl = withUser(admin, runner, "runner-pw");
    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      writeVersion(store, cf, 1);
      RunningReplication first = replication(runnerUrl, store, cf).start();
      try {
        Await.caughtUp(first, WAIT, "first runner, version 1");

        // The first runner reads version 2 and blocks applying it behind a table lock.
        try (Connection locker = DriverManager.getConnection(admin)) {
          locker.setAutoCommit(false);
          try (Statement lock = locker.createStatement()) {
            lock.execute("lock table t in access exclusive mode");
          }
          writeVersion(store, cf, 2);
          Await.condition(WAIT, "the first runner waits on the table lock", () -> !TestPostgres.query(admin,
              "select 1 from pg_stat_activity where usename = '" + runner + "' and wait_event_type = 'Lock'")
              .isEmpty());
          // Its session dies, and it cannot connect again until the second runner is done.
          TestPostgres.execute(admin, "alter role " + runner + " connection limit 0");
          TestPostgres.execute(admin, "select pg_terminate_backend(pid) from pg_stat_activity where usename = '"
              + runner + "'");
          locker.rollback();
        }
        Await.condition(WAIT, "the first runner's session has ended", () -> TestPostgres.query(admin,
            "select 1 from pg_stat_activity where usename = '" + runner + "'").isEmpty());

        // The second runner takes over, applies versions 2 and 3, and stops.
        try (RunningReplication second = replication(admin, store, cf).start()) {
          Await.caughtUp(second, WAIT, "second runner, version 2");
          writeVersion(store, cf, 3);
          Await.caughtUp(second, WAIT, "second runner, version 3");
        }
        long checkpoint = checkpoint(admin);
        assertThat(checkpoint).isEqualTo(store.db.getLatestSequenceNumber());

        // The first runner gets back in: it must stop rather than commit its stale version 2.
        TestPostgres.execute(admin, "alter role " + runner + " connection limit -1");
        ReplicationException failure = Await.failure(first, WAIT);
        assertThat(failure.kind()).isEqualTo(ReplicationException.Kind.FENCED);
        assertThat(failure).hasMessageContaining("taken over by another runner")
            .hasMessageContaining("'shared'").hasMessageContaining("one runner per replication name");
        assertThat(TestPostgres.query(admin, "select * from violations")).isEmpty();
        assertThat(checkpoint(admin)).isEqualTo(checkpoint);
        assertThat(TestPostgres.query(admin, "select failure from kv2pg.replication"))
            .as("a fenced runner records no failure in the owner's row").containsExactly(nullRow());
        assertThat(rows(admin)).containsExactlyElementsOf(expectedRows(3));
      } finally {
        first.close();
      }

      // Started again, the first runner re-reads the checkpoint and goes on from there.
      writeVersion(store, cf, 4);
      try (RunningReplication again = replication(runnerUrl, store, cf).start()) {
        Await.caughtUp(again, WAIT, "first runner restarted, version 4");
      }
      assertThat(TestPostgres.query(admin, "select * from violations")).isEmpty();
      assertThat(rows(admin)).containsExactlyElementsOf(expectedRows(4));
    }
  }

  @Test
  void aRunnerThatFindsItsLockHeldByANewOwnerFailsAsTakenOverInsteadOfWaiting() throws Exception {
    String admin = TestPostgres.newDatabase();
    String runner = "runner_" + databaseName(admin);
    createVersionedTable(admin, runner);
    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      writeVersion(store, cf, 1);
      RunningReplication first = replication(withUser(admin, runner, "runner-pw"), store, cf).start();
      try {
        Await.caughtUp(first, WAIT, "first runner, version 1");
        // The first runner's session dies, and the second runner takes the lock while the
        // first cannot connect.
        TestPostgres.execute(admin, "alter role " + runner + " connection limit 0");
        TestPostgres.execute(admin, "select pg_terminate_backend(pid) from pg_stat_activity where usename = '"
            + runner + "'");
        Await.condition(WAIT, "the first runner's session has ended", () -> TestPostgres.query(admin,
            "select 1 from pg_stat_activity where usename = '" + runner + "'").isEmpty());
        try (RunningReplication second = replication(admin, store, cf).start()) {
          writeVersion(store, cf, 2);
          Await.caughtUp(second, WAIT, "second runner, version 2");
          // The first runner gets back in while the second holds the lock: it must not wait for
          // the lock as if its own old session held it.
          TestPostgres.execute(admin, "alter role " + runner + " connection limit -1");
          ReplicationException failure = Await.failure(first, WAIT);
          assertThat(failure.kind()).isEqualTo(ReplicationException.Kind.FENCED);
          assertThat(failure).hasMessageContaining("taken over by another runner");
          writeVersion(store, cf, 3);
          Await.caughtUp(second, WAIT, "second runner, version 3");
        }
      } finally {
        first.close();
      }
      assertThat(TestPostgres.query(admin, "select * from violations")).isEmpty();
      assertThat(rows(admin)).containsExactlyElementsOf(expectedRows(3));
    }
  }

  @Test
  void aCommitFailsOnceAnotherRunnerHasClaimedTheCheckpoint() throws Exception {
    String admin = TestPostgres.newDatabase();
    createVersionedTable(admin, "runner_" + databaseName(admin));
    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      writeVersion(store, cf, 1);
      try (RunningReplication running = replication(admin, store, cf).start()) {
        Await.caughtUp(running, WAIT, "version 1");
        long checkpoint = checkpoint(admin);
        // What a runner that takes the lock does first, while this one still believes it owns it.
        TestPostgres.execute(admin, "update kv2pg.replication set epoch = epoch + 1 where name = 'shared'");
        writeVersion(store, cf, 2);
        ReplicationException failure = Await.failure(running, WAIT);
        assertThat(failure.kind()).isEqualTo(ReplicationException.Kind.FENCED);
        assertThat(failure).hasMessageContaining("taken over by another runner");
        assertThat(checkpoint(admin)).isEqualTo(checkpoint);
        assertThat(rows(admin)).containsExactlyElementsOf(expectedRows(1));
      }
    }
  }

  @Test
  void stopReturnsWhileAnotherSessionLocksAMappedTableAndFreesTheLockForTheNextStart() throws Exception {
    String admin = TestPostgres.newDatabase();
    createVersionedTable(admin, "runner_" + databaseName(admin));
    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      writeVersion(store, cf, 1);
      Replication replication = replication(admin, store, cf);
      try (Connection locker = DriverManager.getConnection(admin)) {
        RunningReplication running = replication.start();
        try {
          Await.caughtUp(running, WAIT, "version 1");
          locker.setAutoCommit(false);
          try (Statement lock = locker.createStatement()) {
            lock.execute("lock table t in access exclusive mode");
          }
          writeVersion(store, cf, 2);
          Await.condition(WAIT, "the writer waits on the table lock", () -> !TestPostgres.query(admin,
              "select 1 from pg_stat_activity where application_name like 'kv2pg%' and wait_event_type = 'Lock'")
              .isEmpty());
          Await.condition(WAIT, "status says what the writer waits for", () -> running.status().waitingFor()
              .filter(why -> why.startsWith("statement on t blocked by a lock held by server process ")).isPresent());
          CompletableFuture<Void> stop = CompletableFuture.runAsync(() -> running.stop(Duration.ofMillis(200)));
          // A bound against a hang, not a speed target: without the cancel, stop waits for the lock.
          stop.get(60, TimeUnit.SECONDS);
          assertThat(running.status().state()).isEqualTo(ReplicationState.STOPPED);
        } finally {
          running.close();
        }
        // The abandoned server process is gone, so its advisory lock is free while the table
        // lock is still held.
        Await.condition(WAIT, "kv2pg's server process has ended", () -> TestPostgres.query(admin,
            "select 1 from pg_stat_activity where application_name like 'kv2pg%'").isEmpty());
        locker.rollback();
        assertThat(rows(admin)).containsExactlyElementsOf(expectedRows(1));
      }
      try (RunningReplication again = replication.start()) {
        Await.caughtUp(again, WAIT, "version 2 after the restart");
      }
      assertThat(TestPostgres.query(admin, "select * from violations")).isEmpty();
      assertThat(rows(admin)).containsExactlyElementsOf(expectedRows(2));
    }
  }

  private static Replication replication(String url, TestStore store, ColumnFamilyHandle cf) {
    return Replication.builder().postgres(url).source(store.db).name("shared")
        .tree(TreeMapping.builder(cf)
            .insert("insert into t values ($1, $2) on conflict (id) do update set version = excluded.version",
                (key, value) -> Params.of(ByteBuffer.wrap(key).getLong(), ByteBuffer.wrap(value).getLong()))
            .remove("delete from t where id = $1", key -> Params.of(ByteBuffer.wrap(key).getLong()))
            .build())
        .build();
  }

  private static void createVersionedTable(String admin, String runner) {
    TestPostgres.execute(admin, """
        create role %1$s login password 'runner-pw';
        grant create on database %2$s to %1$s;
        grant create, usage on schema public to %1$s;
        create table t (id bigint primary key, version bigint not null);
        create table violations (id bigint, old_version bigint, new_version bigint);
        create function record_violation() returns trigger language plpgsql as $$
        begin
          if new.version <= old.version then
            insert into violations values (old.id, old.version, new.version);
          end if;
          return new;
        end $$;
        create trigger versions before update on t for each row execute function record_violation();
        grant all on t, violations to %1$s;
        """.formatted(runner, databaseName(admin)));
  }

  private static void writeVersion(TestStore store, ColumnFamilyHandle cf, long version) throws Exception {
    try (WriteBatch batch = new WriteBatch(); WriteOptions options = new WriteOptions()) {
      for (long id = 0; id < KEYS; id++) {
        batch.put(cf, ByteBuffer.allocate(8).putLong(id).array(), ByteBuffer.allocate(8).putLong(version).array());
      }
      store.db.write(options, batch);
    }
  }

  private static List<List<Object>> expectedRows(long version) {
    List<List<Object>> rows = new ArrayList<>();
    for (long id = 0; id < KEYS; id++) {
      rows.add(List.of(id, version));
    }
    return rows;
  }

  private static List<List<Object>> rows(String url) {
    return TestPostgres.query(url, "select id, version from t order by id");
  }

  private static long checkpoint(String url) {
    return (Long) TestPostgres.query(url, "select applied_sequence from kv2pg.replication where name = 'shared'")
        .get(0).get(0);
  }

  private static List<Object> nullRow() {
    List<Object> row = new ArrayList<>();
    row.add(null);
    return row;
  }

  private static String databaseName(String url) {
    int query = url.indexOf('?');
    String base = query < 0 ? url : url.substring(0, query);
    return base.substring(base.lastIndexOf('/') + 1);
  }

  /** The URL with its user and password replaced; other parameters stay. */
  private static String withUser(String url, String user, String password) {
    int query = url.indexOf('?');
    StringBuilder result = new StringBuilder(query < 0 ? url : url.substring(0, query));
    result.append("?user=").append(user).append("&password=").append(password);
    if (query >= 0) {
      for (String parameter : url.substring(query + 1).split("&")) {
        String name = parameter.split("=", 2)[0];
        if (!name.equals("user") && !name.equals("password") && !parameter.isEmpty()) {
          result.append('&').append(parameter);
        }
      }
    }
    return result.toString();
  }
}
