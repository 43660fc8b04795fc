package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * Errors that look transient but come back for the same work (here {@code statement_timeout})
 * shrink the transaction, and fail with a clear message once one write batch alone keeps failing;
 * {@link ReplicationStatus#waitingFor()} says what the replication waits for meanwhile. Every row
 * is slowed down by a trigger that also rejects an update whose version does not increase.
 */
class PostgresLimitsTest {
  private static final Duration WAIT = Duration.ofSeconds(120);
  private static final int BATCHES = 32;
  private static final int KEYS_PER_BATCH = 8;

  @TempDir Path dir;

  @Test
  void aTransactionTooLargeForTheStatementTimeoutIsAppliedInSmallerOnes() throws Exception {
    String url = TestPostgres.newDatabase();
    createSlowVersionedTable(url, "0.01");
    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      Replication replication = replicateTheFirstKey(url, store, cf);
      // Read back as one transaction of 256 rows at 10 ms each: too slow for 1 s; 64 rows pass.
      for (int batch = 0; batch < BATCHES; batch++) {
        writeBatch(store, cf, 1 + batch * KEYS_PER_BATCH, 1);
      }
      TestPostgres.execute(url, "alter database " + databaseName(url) + " set statement_timeout = '1s'");
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, WAIT, "after the statement timeouts");
        assertThat(running.status().failure()).isEmpty();
        assertThat(running.status().waitingFor()).isEmpty();
      }
      assertThat(rows(url)).containsExactlyElementsOf(storeRows(store, cf));
    }
  }

  @Test
  void anInitialCopyChunkTooLargeForTheStatementTimeoutIsWrittenInSmallerOnes() throws Exception {
    String url = TestPostgres.newDatabase();
    createSlowVersionedTable(url, "0.01");
    TestPostgres.execute(url, "alter database " + databaseName(url) + " set statement_timeout = '1s'");
    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      for (int batch = 0; batch < BATCHES; batch++) {
        writeBatch(store, cf, batch * KEYS_PER_BATCH, 1); // one copy chunk of 256 rows at 10 ms each
      }
      try (RunningReplication running = replication(url, store, cf).start()) {
        Await.caughtUp(running, WAIT, "after the copy's statement timeouts");
        assertThat(running.status().failure()).isEmpty();
      }
      assertThat(rows(url)).containsExactlyElementsOf(storeRows(store, cf));
    }
  }

  @Test
  void aWriteBatchThatAloneExceedsTheStatementTimeoutFailsNamingTheSettingAndResumesOnceRaised()
      throws Exception {
    String url = TestPostgres.newDatabase();
    createSlowVersionedTable(url, "0.05");
    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      Replication replication = replicateTheFirstKey(url, store, cf);
      TestPostgres.execute(url, "alter database " + databaseName(url) + " set statement_timeout = '100ms'");
      long applied = store.db.getLatestSequenceNumber();
      writeBatch(store, cf, 1, 2); // 8 rows at 50 ms: 400 ms, every time
      try (RunningReplication running = replication.start()) {
        Await.condition(WAIT, "status says that the replication retries the timed-out statement", () ->
            running.status().waitingFor().filter(why -> why.startsWith("Postgres failed: SQLSTATE 57014")
                && why.contains("(attempt ")).isPresent());
        ReplicationException failure = Await.failure(running, WAIT);
        assertThat(failure.kind()).isEqualTo(ReplicationException.Kind.POSTGRES);
        assertThat(failure.getMessage())
            .contains("the write batch of sequences " + (applied + 1) + " to " + (applied + KEYS_PER_BATCH)
                + " (8 changes, applied alone)")
            .contains("SQLSTATE 57014")
            .contains("raise statement_timeout for kv2pg's role or database")
            .contains("start the replication again: it resumes after sequence " + applied);
        assertThat(running.status().waitingFor()).isEmpty();
      }
      TestPostgres.execute(url, "alter database " + databaseName(url) + " reset statement_timeout");
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, WAIT, "after the setting was raised");
      }
      assertThat(rows(url)).containsExactlyElementsOf(storeRows(store, cf));
    }
  }

  @Test
  void aSettingRaisedWhileRetryingTakesEffectAtTheNextAttempt() throws Exception {
    String url = TestPostgres.newDatabase();
    createSlowVersionedTable(url, "0.25");
    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      Replication replication = replicateTheFirstKey(url, store, cf);
      TestPostgres.execute(url, "alter database " + databaseName(url) + " set statement_timeout = '1s'");
      writeBatch(store, cf, 1, 2); // 8 rows at 250 ms: 2 s, over the timeout
      try (RunningReplication running = replication.start()) {
        Await.condition(WAIT, "the first attempt timed out", () -> running.status().waitingFor()
            .filter(why -> why.startsWith("Postgres failed: SQLSTATE 57014") && why.contains("(attempt 1,"))
            .isPresent());
        // Each attempt runs on a new session, which reads the setting as it is now.
        TestPostgres.execute(url, "alter database " + databaseName(url) + " reset statement_timeout");
        Await.caughtUp(running, WAIT, "after the setting was raised");
        assertThat(running.status().failure()).isEmpty();
      }
      assertThat(rows(url)).containsExactlyElementsOf(storeRows(store, cf));
    }
  }

  @Test
  void aPostgresUnreachableAtStartIsShownAsWhatTheReplicationWaitsFor() throws Exception {
    int closedPort;
    try (ServerSocket socket = new ServerSocket(0)) {
      closedPort = socket.getLocalPort();
    }
    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      Replication replication = replication(
          "jdbc:postgresql://127.0.0.1:" + closedPort + "/nowhere?connectTimeout=2", store, cf);
      RunningReplication running = replication.start();
      try {
        Await.condition(WAIT, "status says that Postgres is unreachable", () -> running.status().waitingFor()
            .filter(why -> why.startsWith("Postgres unreachable: SQLSTATE 08001") && why.contains("(attempt "))
            .isPresent());
        assertThat(running.status().state()).isEqualTo(ReplicationState.STARTING);
      } finally {
        running.stop(Duration.ofSeconds(5));
      }
      assertThat(running.status().state()).isEqualTo(ReplicationState.STOPPED);
      assertThat(running.status().waitingFor()).isEmpty();
    }
  }

  /** Replicates key 0 and stops, so that what is written next is streamed at the next start. */
  private static Replication replicateTheFirstKey(String url, TestStore store, ColumnFamilyHandle cf)
      throws Exception {
    put(store, cf, 0, 1);
    Replication replication = replication(url, store, cf);
    try (RunningReplication running = replication.start()) {
      Await.caughtUp(running, WAIT, "the first key");
    }
    return replication;
  }

  /** A declared table, written with one set-based statement per transaction. */
  private static Replication replication(String url, TestStore store, ColumnFamilyHandle cf) {
    return Replication.builder().postgres(url).source(store.db).name("limits")
        .tree(TreeMapping.builder(cf)
            .table("t")
            .keyColumn("id", Decoders.int64())
            .valueColumn("version", Decoders.int64())
            .build())
        .build();
  }

  /** Each row write sleeps {@code seconds}; an update that does not raise the version is refused. */
  private static void createSlowVersionedTable(String url, String seconds) {
    TestPostgres.execute(url, """
        create table t (kv_key bytea not null unique, id bigint primary key, version bigint not null);
        create function slow_versioned() returns trigger language plpgsql as $$
        begin
          if tg_op = 'UPDATE' and new.version <= old.version then
            raise exception 'double apply: key % version % after %', new.id, new.version, old.version;
          end if;
          perform pg_sleep(SECONDS);
          return new;
        end $$;
        create trigger slow before insert or update on t for each row execute function slow_versioned();
        """.replace("SECONDS", seconds));
  }

  private static void put(TestStore store, ColumnFamilyHandle cf, long id, long version) throws Exception {
    store.db.put(cf, ByteBuffer.allocate(8).putLong(id).array(), ByteBuffer.allocate(8).putLong(version).array());
  }

  private static void writeBatch(TestStore store, ColumnFamilyHandle cf, long firstId, long version)
      throws Exception {
    try (WriteBatch batch = new WriteBatch(); WriteOptions options = new WriteOptions()) {
      for (long id = firstId; id < firstId + KEYS_PER_BATCH; id++) {
        batch.put(cf, ByteBuffer.allocate(8).putLong(id).array(), ByteBuffer.allocate(8).putLong(version).array());
      }
      store.db.write(options, batch);
    }
  }

  private static List<List<Object>> storeRows(TestStore store, ColumnFamilyHandle cf) {
    List<List<Object>> rows = new ArrayList<>();
    try (RocksIterator it = store.db.newIterator(cf)) {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        rows.add(List.of(ByteBuffer.wrap(it.key()).getLong(), ByteBuffer.wrap(it.value()).getLong()));
      }
    }
    return rows;
  }

  private static List<List<Object>> rows(String url) {
    return TestPostgres.query(url, "select id, version from t order by id");
  }

  private static String databaseName(String url) {
    int query = url.indexOf('?');
    String base = query < 0 ? url : url.substring(0, query);
    return base.substring(base.lastIndexOf('/') + 1);
  }
}
