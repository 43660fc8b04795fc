package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * Faults of the Postgres server itself, on a server of the test's own ({@link FaultPostgres}): kill
 * -9 of the postmaster while streaming and while copying, a server that is down when the replication
 * starts, the application killed while the server restarts, and names that need quoting. Every
 * table carries a version trigger ({@link VersionedWorkload}) that refuses anything applied twice,
 * and every test ends with the tables equal to the store, row by row.
 */
class PostgresFaultTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String STATEMENTS = "s";
  private static final String DECLARED = "d";

  @TempDir Path dir;
  private FaultPostgres server;

  @BeforeEach
  void startServer() {
    server = FaultPostgres.launch();
  }

  @AfterEach
  void closeServer() {
    if (server != null) {
      server.close();
    }
  }

  /** Tables s_rows (statements) and d_rows (declared), both under the version trigger. */
  private String newDatabase(String name) {
    String url = server.newDatabase(name);
    VersionedWorkload.installTriggerFunction(url);
    VersionedWorkload.createStatementTable(url, "s_rows");
    VersionedWorkload.createDeclaredTable(url, "d_rows");
    return url;
  }

  private static Replication replication(String url, TestStore store, String name) {
    return Replication.builder().postgres(url).source(store.db).name(name)
        .tree(VersionedWorkload.statementMapping(store.family(STATEMENTS), "s_rows"))
        .tree(VersionedWorkload.declaredMapping(store.family(DECLARED), "d_rows"))
        .build();
  }

  /** Both tables equal the store, the trigger refused nothing, the checkpoint is the store's latest. */
  private static void assertTablesEqualStore(String url, TestStore store, Replication replication, String name,
      String context) {
    VersionedWorkload.assertTableEqualsStore(url, store, STATEMENTS, "select key, version, payload from s_rows",
        context);
    VersionedWorkload.assertTableEqualsStore(url, store, DECLARED, "select key, version, payload from d_rows",
        context);
    VersionedWorkload.assertNoWriteRefused(url, context);
    TableDiff.assertCheckpointAtLatest(url, name, store, context);
    VerificationReport report = Verification.of(replication).run();
    assertThat(report.isClean()).as("%s: verification%n%s", context, report.format()).isTrue();
  }

  /** Waits for {@code reached}; fails at once if the replication fails. */
  private static void progress(RunningReplication running, String what, Predicate<ReplicationStatus> reached) {
    Await.status(running, WAIT, what, status -> {
      assertThat(status.state()).as("%s: %s", what, status).isNotEqualTo(ReplicationState.FAILED);
      return reached.test(status);
    });
  }

  private static void assertNotFailed(RunningReplication running, String context) {
    ReplicationStatus status = running.status();
    assertThat(status.state()).as("%s: %s", context, status).isNotEqualTo(ReplicationState.FAILED);
  }

  /** (a) kill -9 of the postmaster while the replication streams continuous writes, three times. */
  @Test
  @Timeout(value = 2, unit = TimeUnit.MINUTES)
  void postmasterKilledWhileStreamingThreeTimesCatchesUpExactlyOnce() throws Exception {
    String url = newDatabase("streaming");
    long seed = new Random().nextLong();
    try (TestStore store = TestStore.open(dir, STATEMENTS, DECLARED)) {
      Replication replication = replication(url, store, "streaming");
      AtomicLong versions = new AtomicLong();
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, WAIT, "empty start");
        try (VersionedWorkload.Writer writer = new VersionedWorkload.Writer(store, List.of(STATEMENTS, DECLARED),
            500, seed, versions, 2_000)) {
          for (int round = 1; round <= 3; round++) {
            String context = "seed " + seed + ", round " + round;
            long before = running.status().appliedSequence();
            progress(running, "commits before the kill (" + context + ")",
                status -> status.appliedSequence() > before + 100);
            server.kill9();
            long atKill = store.db.getLatestSequenceNumber();
            // Writes go on while the server is down; the replication must not give up.
            Await.condition(WAIT, "writes while the server is down (" + context + ")",
                () -> store.db.getLatestSequenceNumber() > atKill + 1_000);
            assertNotFailed(running, context + ", server down");
            server.start();
            progress(running, "commits after the restart (" + context + ")",
                status -> status.appliedSequence() > atKill + 1_000);
            assertNotFailed(running, context + ", after restart");
          }
        }
        Await.caughtUp(running, WAIT, "after the last round, seed " + seed);
        assertTablesEqualStore(url, store, replication, "streaming", "seed " + seed + ", after three kills");
        assertThat(server.starts()).isEqualTo(4);
      }
      assertThat(TestPostgres.query(url, "select failure from kv2pg.replication where name = 'streaming'"))
          .containsExactly(java.util.Arrays.asList((Object) null));
      // The trigger is live: writing a row again with the version it has is refused.
      for (String table : List.of("s_rows", "d_rows")) {
        assertThatThrownBy(() -> TestPostgres.execute(url, "update " + table + " set payload = 'again'"
            + " where key = (select min(key) from " + table + ")"))
            .as("the version trigger on %s", table).hasMessageContaining("applied twice");
      }
      assertThat(TestPostgres.query(url, "select is_called from kv2pg_test_refused_writes"))
          .containsExactly(List.of(true));
    }
  }

  /** (f) pg_terminate_backend on kv2pg's sessions every 100 ms for 15 s, under continuous writes. */
  @Test
  @Timeout(value = 2, unit = TimeUnit.MINUTES)
  void sessionsTerminatedEvery100msFor15sUnderLoadLoseAndDoubleNothing() throws Exception {
    String url = newDatabase("storm");
    long seed = new Random().nextLong();
    try (TestStore store = TestStore.open(dir, STATEMENTS, DECLARED)) {
      Replication replication = replication(url, store, "storm");
      AtomicLong versions = new AtomicLong();
      int terminated = 0;
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, WAIT, "empty start");
        try (VersionedWorkload.Writer writer = new VersionedWorkload.Writer(store, List.of(STATEMENTS, DECLARED),
            500, seed, versions, 2_000)) {
          long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
          while (System.nanoTime() < until) {
            terminated += TestPostgres.query(url, "select pg_terminate_backend(pid) from pg_stat_activity"
                + " where application_name = 'kv2pg-storm'").size();
            assertNotFailed(running, "seed " + seed + ", while sessions are terminated");
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
          }
        }
        Await.caughtUp(running, WAIT, "after the terminations, seed " + seed);
        assertTablesEqualStore(url, store, replication, "storm", "seed " + seed + ", after " + terminated
            + " terminations");
      }
      assertThat(terminated).as("sessions terminated").isGreaterThan(10);
    }
  }

  /** (b) kill -9 of the postmaster while the initial copy runs; after the restart it completes. */
  @Test
  @Timeout(value = 2, unit = TimeUnit.MINUTES)
  void postmasterKilledDuringTheInitialCopyCopiesEverythingExactlyOnce() throws Exception {
    String url = newDatabase("copying");
    long seed = new Random().nextLong();
    String context = "seed " + seed;
    try (TestStore store = TestStore.open(dir, STATEMENTS, DECLARED)) {
      AtomicLong versions = new AtomicLong();
      fill(store, STATEMENTS, 60_000, versions);
      fill(store, DECLARED, 120_000, versions);
      Replication replication = replication(url, store, "copying");
      try (RunningReplication running = replication.start()) {
        progress(running, "a copy chunk committed (" + context + ")",
            status -> status.state() == ReplicationState.COPYING && status.rowsApplied() > 0);
        ReplicationStatus atKill;
        try (VersionedWorkload.Writer writer = new VersionedWorkload.Writer(store, List.of(STATEMENTS, DECLARED),
            5_000, seed, versions, 500)) {
          server.kill9();
          atKill = running.status();
          assertThat(atKill.state()).as("%s: killed while copying: %s", context, atKill)
              .isEqualTo(ReplicationState.COPYING);
          assertNotFailed(running, context + ", server down");
          server.start();
          Await.state(running, WAIT, ReplicationState.STREAMING);
        }
        Await.caughtUp(running, WAIT, context);
        assertTablesEqualStore(url, store, replication, "copying", context + ", killed after "
            + atKill.rowsApplied() + " rows copied");
      }
    }
  }

  /** (c) Postgres is down when the replication starts; it waits, then catches up. */
  @Test
  @Timeout(value = 2, unit = TimeUnit.MINUTES)
  void postgresDownAtStartIsWaitedForThenCaughtUp() throws Exception {
    String url = newDatabase("down");
    server.stop();
    try (TestStore store = TestStore.open(dir, STATEMENTS, DECLARED)) {
      AtomicLong versions = new AtomicLong();
      fill(store, STATEMENTS, 1_000, versions);
      fill(store, DECLARED, 1_000, versions);
      Replication replication = replication(url, store, "down");
      try (RunningReplication running = replication.start()) {
        // For three seconds of retries, with writes going on, the replication must not fail.
        try (VersionedWorkload.Writer writer = new VersionedWorkload.Writer(store, List.of(STATEMENTS, DECLARED),
            200, 1, versions, 500)) {
          long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
          while (System.nanoTime() < until) {
            ReplicationStatus status = running.status();
            assertThat(status.state()).as("while Postgres is down: %s", status)
                .isIn(ReplicationState.STARTING, ReplicationState.COPYING, ReplicationState.STREAMING);
            assertThat(status.appliedSequence()).as("nothing applied while down").isZero();
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
          }
          assertThat(running.awaitCaughtUp(Duration.ofMillis(100))).as("caught up while down").isFalse();
          assertThat(running.status().waitingFor()).as("status while down")
              .hasValueSatisfying(why -> assertThat(why).startsWith("Postgres unreachable: SQLSTATE 08001")
                  .contains("(attempt "));
          server.start();
          Await.caughtUp(running, WAIT, "server started, writes going on");
        }
        Await.caughtUp(running, WAIT, "server up");
        assertTablesEqualStore(url, store, replication, "down", "after the server came up");
      }
    }
  }

  /** (d) The application is killed (SIGKILL) while Postgres restarts; a new run catches up exactly once. */
  @Test
  @Timeout(value = 2, unit = TimeUnit.MINUTES)
  void applicationKilledWhilePostgresRestartsThenANewRunCatchesUpExactlyOnce() throws Exception {
    String url = server.newDatabase("appkill");
    VersionedWorkload.installTriggerFunction(url);
    VersionedWorkload.createStatementTable(url, "kv");
    VersionedWorkload.createStatementTable(url, "batches");
    long seed = new Random().nextLong();
    Path storeDir = dir.resolve("store");
    try (TestStore store = TestStore.open(storeDir, CrashChild.DATA, CrashChild.BATCHES)) {
      try (WriteOptions options = new WriteOptions()) {
        CrashChild.write(store, options, CrashChild.batch(seed, 0));
      }
      catchUpAndCompare(store, url, "seed " + seed + ", initial copy");
    }
    for (int round = 1; round <= 2; round++) {
      String context = "seed " + seed + ", round " + round;
      try (ChildJvm child = ChildJvm.start(CrashChild.class, CrashChild.STREAMING, storeDir.toString(), url,
          Long.toString(seed))) {
        if (!child.awaitLine(WAIT.toSeconds(), TimeUnit.SECONDS)) {
          fail("the child did not stream (%s); output:%n%s", context, child.output());
        }
        server.kill9();
        if (round == 1) {
          // Killed while the server is down: the child is retrying its connection.
          child.kill(WAIT, context);
          server.start();
        } else {
          // Killed while the server restarts: crash recovery, then the child's reconnect.
          CompletableFuture<Void> restart = CompletableFuture.runAsync(server::start);
          child.kill(WAIT, context);
          restart.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        }
        assertThat(child.output()).as("child output (%s)", context).doesNotContain("FAILED");
      }
      ChildJvm.awaitSessionGone(url, "kv2pg-" + CrashChild.REPLICATION, WAIT, context);
      VersionedWorkload.assertNoWriteRefused(url, context + ", after the kills");
      try (TestStore store = TestStore.open(storeDir, CrashChild.DATA, CrashChild.BATCHES)) {
        assertThat(CrashChild.lastBatch(store)).as("the child wrote batches (%s)", context).isPositive();
        catchUpAndCompare(store, url, context);
      }
    }
  }

  private static void catchUpAndCompare(TestStore store, String url, String context) throws InterruptedException {
    try (RunningReplication running = CrashChild.replication(store, url).start()) {
      Await.caughtUp(running, WAIT, context);
    }
    VersionedWorkload.assertTableEqualsStore(url, store, CrashChild.DATA, "select key, version, payload from kv",
        context);
    VersionedWorkload.assertTableEqualsStore(url, store, CrashChild.BATCHES,
        "select key, version, payload from batches", context);
    VersionedWorkload.assertNoWriteRefused(url, context);
    TableDiff.assertCheckpointAtLatest(url, CrashChild.REPLICATION, store, context);
  }

  /**
   * (e) A schema, tables and columns whose names hold double quotes, spaces, mixed case, a
   * semicolon, a comment marker and placeholder look-alikes, through a declared table and through
   * statements, copied and streamed.
   */
  @Test
  @Timeout(value = 2, unit = TimeUnit.MINUTES)
  void hostileNamesAreQuotedThroughDeclaredTablesAndStatements() throws Exception {
    String url = server.newDatabase("hostile");
    VersionedWorkload.installTriggerFunction(url);
    String schema = "we\"ird; Schema -- x";
    String declaredTable = "Dec\"lared; drop table x; --";
    String keyColumn = "Key \"col\"; 1";
    String versionColumn = "Ver sion;\"";
    String payloadColumn = "pay'load $1 ? \"x\"";
    String statementTable = "St at\"ement\"; $2 ?";
    String quotedSchema = quote(schema);
    String declared = quotedSchema + "." + quote(declaredTable);
    String statements = quotedSchema + "." + quote(statementTable);
    String columns = " (" + quote(keyColumn) + " text not null, " + quote(versionColumn) + " bigint, "
        + quote(payloadColumn) + " text";
    TestPostgres.execute(url, "create schema " + quotedSchema + "; create table " + declared + columns
        + ", kv_key bytea not null unique, primary key (" + quote(keyColumn) + "))");
    VersionedWorkload.protect(url, declared, keyColumn, versionColumn);
    try (TestStore store = TestStore.open(dir, STATEMENTS, DECLARED)) {
      AtomicLong versions = new AtomicLong();
      fill(store, STATEMENTS, 500, versions);
      fill(store, DECLARED, 500, versions);
      ColumnFamilyHandle statementFamily = store.family(STATEMENTS);
      TreeMapping byStatements = TreeMapping.builder(statementFamily)
          .createCommands("create table if not exists " + statements + columns + " not null, primary key ("
              + quote(keyColumn) + ")); -- the trigger comes next\n"
              + "create or replace trigger kv2pg_test_version after insert or update on " + statements
              + " for each row execute function kv2pg_test_refuse_old_version('" + keyColumn.replace("'", "''")
              + "', '" + versionColumn.replace("'", "''") + "')")
          .insert("insert into " + statements + " (" + quote(keyColumn) + ", " + quote(versionColumn) + ", "
                  + quote(payloadColumn) + ") values ($1, $2, $3) on conflict (" + quote(keyColumn)
                  + ") do update set " + quote(versionColumn) + " = excluded." + quote(versionColumn) + ", "
                  + quote(payloadColumn) + " = excluded." + quote(payloadColumn) + " /* $4 ? ; */",
              (key, value) -> Params.of(CrashChild.text(key), CrashChild.version(value), CrashChild.payload(value)))
          .remove("delete from " + statements + " where " + quote(keyColumn) + " = $1 -- ? $2",
              key -> Params.of(CrashChild.text(key)))
          .build();
      TreeMapping byDeclaration = TreeMapping.builder(store.family(DECLARED))
          .table(schema + "." + declaredTable)
          .keyColumn(keyColumn, Decoders.utf8())
          .valueColumn(versionColumn, Decoders.int64At(0))
          .valueColumn(payloadColumn, Decoders.utf8From(8))
          .build();
      Replication replication = Replication.builder().postgres(url).source(store.db).name("hostile")
          .tree(byStatements).tree(byDeclaration).build();
      String selectColumns = "select " + quote(keyColumn) + ", " + quote(versionColumn) + ", "
          + quote(payloadColumn) + " from ";
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, WAIT, "initial copy");
        try (VersionedWorkload.Writer writer = new VersionedWorkload.Writer(store, List.of(STATEMENTS, DECLARED),
            300, 7, versions, 2_000)) {
          Await.condition(WAIT, "some writes", () -> writer.puts.get() > 1_000);
        }
        try (WriteBatch batch = new WriteBatch(); WriteOptions options = new WriteOptions()) {
          batch.deleteRange(store.family(DECLARED), bytes("k00010"), bytes("k00020"));
          store.db.write(options, batch);
        }
        Await.caughtUp(running, WAIT, "streaming");
        VersionedWorkload.assertTableEqualsStore(url, store, STATEMENTS, selectColumns + statements, "statements");
        VersionedWorkload.assertTableEqualsStore(url, store, DECLARED, selectColumns + declared, "declared");
        VersionedWorkload.assertNoWriteRefused(url, "hostile names");
        assertThat(TestPostgres.query(url, "select count(*) from pg_trigger where tgname = 'kv2pg_test_version'"))
            .as("both tables carry the version trigger").containsExactly(List.of(2L));
        VerificationReport report = Verification.of(replication).run();
        assertThat(report.isClean()).as(report.format()).isTrue();
      }
      // A second start checks the existing declared table against the declaration.
      try (RunningReplication again = replication.start()) {
        Await.caughtUp(again, WAIT, "second start");
        assertNotFailed(again, "second start");
      }
      VersionedWorkload.assertTableEqualsStore(url, store, DECLARED, selectColumns + declared, "second start");
    }
  }

  private static String quote(String identifier) {
    return "\"" + identifier.replace("\"", "\"\"") + "\"";
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  /** Puts {@code count} keys into a family, in write batches of 1,000. */
  private static void fill(TestStore store, String family, int count, AtomicLong versions) throws Exception {
    ColumnFamilyHandle handle = store.family(family);
    try (WriteOptions options = new WriteOptions()) {
      for (int start = 0; start < count; start += 1_000) {
        try (WriteBatch batch = new WriteBatch()) {
          for (int i = start; i < Math.min(count, start + 1_000); i++) {
            long v = versions.incrementAndGet();
            batch.put(handle, bytes(String.format("k%05d", i)), CrashChild.value(v, "fill " + v));
          }
          store.db.write(options, batch);
        }
      }
    }
  }
}
