package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.kv2pg.CrashChild.Op;
import io.kv2pg.CrashChild.Row;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.RocksDBException;
import org.rocksdb.TransactionLogIterator;
import org.rocksdb.TransactionLogIterator.BatchResult;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * Kills a replicating process with SIGKILL at random moments, several times, and checks after each
 * kill that Postgres holds exactly the state after the batch its checkpoint names, and after each
 * restart that it holds exactly the store.
 *
 * <p>A child JVM ({@link CrashChild}) writes a deterministic history of write batches and
 * replicates it; the first start (the initial copy) runs in this JVM, so the children only stream.
 * What would fail the test:
 *
 * <ul>
 *   <li>A batch applied twice: a trigger refuses any write whose version is not above every
 *       version that key ever had in its table, and counts the refusal in a sequence, which is not
 *       rolled back, so even a refusal that kv2pg then recovered from is seen.
 *   <li>A batch skipped: every batch leaves a row of its own in table {@code batches}, and table
 *       {@code kv} is compared row by row with the state the history gives after the last applied
 *       batch; both tables must be cut at the same batch.
 *   <li>A checkpoint that is not the last sequence number of the last applied batch: the batch
 *       that holds it in the store's log must end there and write that batch's row, and the next
 *       batch in the log must start right after it.
 * </ul>
 *
 * <p>A trigger makes each checkpoint update take a few milliseconds, so that many kills land
 * between writing the rows and committing the checkpoint: with the checkpoint committed apart from
 * the rows, the test fails at about every kill.
 */
class CrashRecoveryTest {
  private static final int KILLS = 8;
  private static final int MIN_KILL_DELAY_MILLIS = 20;
  private static final int MAX_KILL_DELAY_MILLIS = 1_500;
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String APPLICATION_NAME = "kv2pg-" + CrashChild.REPLICATION;

  @TempDir Path dir;

  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void tablesAndCheckpointMatchTheLastCommittedBatchAfterEverySigkill() throws Exception {
    long seed = new Random().nextLong();
    Random random = new Random(seed);
    String context = "seed " + seed;
    String url = TestPostgres.newDatabase();
    createTablesAndVersionTriggers(url);
    Path storeDir = dir.resolve("store");
    History history = new History(seed);

    // The first start, with its initial copy, runs here: the children only stream.
    try (TestStore store = TestStore.open(storeDir, CrashChild.DATA, CrashChild.BATCHES)) {
      try (WriteOptions options = new WriteOptions()) {
        CrashChild.write(store, options, CrashChild.batch(seed, 0));
      }
      catchUpAndCheck(store, url, context);
    }
    slowDownCheckpointUpdates(url);

    long lastApplied = 0;
    for (int round = 1; round <= KILLS; round++) {
      String where = context + ", kill " + round;
      String output = runChildAndKill(storeDir, url, seed, random, where);
      // Until the killed child's session has ended, a commit it sent may still land.
      ChildJvm.awaitSessionGone(url, APPLICATION_NAME, WAIT, where);

      assertThat(TestPostgres.query(url,
              "select failure from kv2pg.replication where name = '" + CrashChild.REPLICATION + "'"))
          .as("recorded failure after %s; child output:%n%s", where, output)
          .containsExactly(Arrays.asList((Object) null));
      assertNoWriteRefused(url, where);
      long checkpoint = checkpoint(url);
      TreeMap<String, Row> kv = table(url, "kv");
      TreeMap<String, Row> batches = table(url, "batches");
      long applied = CrashChild.batchNumber(batches.lastKey());

      try (TestStore store = TestStore.open(storeDir, CrashChild.DATA, CrashChild.BATCHES)) {
        long written = CrashChild.lastBatch(store);
        String state = where + ": checkpoint " + checkpoint + ", batches applied " + applied
            + ", batches written " + written + ", latest sequence " + store.db.getLatestSequenceNumber();
        System.out.println("CrashRecoveryTest " + state);

        assertThat(applied).as("batches applied (the child committed some), %s", state)
            .isGreaterThan(lastApplied).isLessThanOrEqualTo(written);

        // Postgres holds exactly the state after the batch its checkpoint names: nothing skipped,
        // nothing from a later batch, both tables cut at the same batch.
        assertSameRows("table kv after batch " + applied + ", " + state, kv, history.data(applied));
        assertSameRows("table batches after batch " + applied + ", " + state, batches, history.batches(applied));

        // The checkpoint is the last sequence number of that batch.
        assertCheckpointEndsBatch(store, checkpoint, applied, written, state);

        // The store recovered the history the child wrote (this checks the test's model too).
        assertSameRows("store tree data after batch " + written + ", " + state,
            entries(store, CrashChild.DATA), history.data(written));
        assertSameRows("store tree batches after batch " + written + ", " + state,
            entries(store, CrashChild.BATCHES), history.batches(written));

        // A restart applies the rest exactly once and ends equal to the store.
        catchUpAndCheck(store, url, state);
        lastApplied = written;
      }
    }
  }

  // ------------------------------------------------------------------ the child process

  private static String runChildAndKill(Path storeDir, String url, long seed, Random random, String where)
      throws Exception {
    try (ChildJvm child = ChildJvm.start(CrashChild.class, CrashChild.STREAMING,
        storeDir.toString(), url, Long.toString(seed))) {
      Process process = child.process;
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (!child.awaitLine(50, TimeUnit.MILLISECONDS)) {
        if (!process.isAlive()) {
          fail("the child exited with code %d before streaming (%s); output:%n%s",
              process.exitValue(), where, child.output());
        }
        if (System.nanoTime() > deadline) {
          fail("the child did not stream within %s (%s); output:%n%s", WAIT, where, child.output());
        }
      }
      int delay = MIN_KILL_DELAY_MILLIS + random.nextInt(MAX_KILL_DELAY_MILLIS - MIN_KILL_DELAY_MILLIS);
      if (process.waitFor(delay, TimeUnit.MILLISECONDS)) {
        fail("the child exited by itself with code %d (%s); output:%n%s",
            process.exitValue(), where, child.output());
      }
      child.kill(WAIT, where);
      return child.output();
    }
  }

  // ------------------------------------------------------------------ checks

  /** Restarts the replication, waits until it has applied everything, and compares. */
  private static void catchUpAndCheck(TestStore store, String url, String where) throws InterruptedException {
    RunningReplication running = CrashChild.replication(store, url).start();
    try {
      assertThat(running.awaitCaughtUp(WAIT)).as("caught up after restart (%s): %s", where, running.status())
          .isTrue();
    } finally {
      running.stop();
    }
    ReplicationStatus status = running.status();
    assertThat(status.state()).as("state after stop (%s): %s", where, status).isEqualTo(ReplicationState.STOPPED);
    assertThat(status.failure()).as("failure (%s)", where).isEmpty();
    assertSameRows("table kv after restart, " + where, table(url, "kv"), entries(store, CrashChild.DATA));
    assertSameRows("table batches after restart, " + where, table(url, "batches"),
        entries(store, CrashChild.BATCHES));
    assertThat(checkpoint(url)).as("checkpoint after restart (%s)", where)
        .isEqualTo(store.db.getLatestSequenceNumber());
    assertNoWriteRefused(url, where);
  }

  /**
   * Checks that the checkpoint is the last sequence number of the batch that wrote {@code applied},
   * and that the next batch in the log, if any, starts right after it and is batch {@code applied + 1}.
   */
  private static void assertCheckpointEndsBatch(TestStore store, long checkpoint, long applied, long written,
      String where) throws RocksDBException {
    int batchesFamily = store.family(CrashChild.BATCHES).getID();
    try (TransactionLogIterator log = store.db.getUpdatesSince(checkpoint)) {
      log.status();
      assertThat(log.isValid()).as("the log holds the checkpoint's batch (%s)", where).isTrue();
      BatchResult containing = log.getBatch();
      try (WriteBatch batch = containing.writeBatch()) {
        assertThat(containing.sequenceNumber()).as("start of the checkpoint's batch (%s)", where)
            .isLessThanOrEqualTo(checkpoint);
        assertThat(containing.sequenceNumber() + batch.count() - 1)
            .as("the checkpoint must be the last sequence number of a batch (%s)", where)
            .isEqualTo(checkpoint);
        assertThat(batchKeys(batch, batchesFamily)).as("the checkpoint's batch (%s)", where)
            .containsExactly(CrashChild.batchKey(applied));
      }
      log.next();
      log.status();
      if (applied == written) {
        assertThat(log.isValid()).as("no batch after the checkpoint (%s)", where).isFalse();
        assertThat(store.db.getLatestSequenceNumber()).as("latest sequence (%s)", where).isEqualTo(checkpoint);
        return;
      }
      assertThat(log.isValid()).as("a batch after the checkpoint (%s)", where).isTrue();
      BatchResult next = log.getBatch();
      try (WriteBatch batch = next.writeBatch()) {
        assertThat(next.sequenceNumber()).as("start of the batch after the checkpoint (%s)", where)
            .isEqualTo(checkpoint + 1);
        assertThat(batchKeys(batch, batchesFamily)).as("the batch after the checkpoint (%s)", where)
            .containsExactly(CrashChild.batchKey(applied + 1));
      }
    }
  }

  /** Returns the keys a write batch puts into the given column family. */
  private static List<String> batchKeys(WriteBatch batch, int family) throws RocksDBException {
    try (PutKeys handler = new PutKeys(family)) {
      batch.iterate(handler);
      return handler.keys;
    }
  }

  /** Collects the keys put into one column family; everything else is ignored. */
  private static final class PutKeys extends WriteBatch.Handler {
    final int family;
    final List<String> keys = new ArrayList<>();

    PutKeys(int family) {
      this.family = family;
    }

    @Override
    public void put(int columnFamilyId, byte[] key, byte[] value) {
      if (columnFamilyId == family) {
        keys.add(CrashChild.text(key));
      }
    }

    @Override
    public void put(byte[] key, byte[] value) {}

    @Override
    public void merge(int columnFamilyId, byte[] key, byte[] value) {}

    @Override
    public void merge(byte[] key, byte[] value) {}

    @Override
    public void delete(int columnFamilyId, byte[] key) {}

    @Override
    public void delete(byte[] key) {}

    @Override
    public void singleDelete(int columnFamilyId, byte[] key) {}

    @Override
    public void singleDelete(byte[] key) {}

    @Override
    public void deleteRange(int columnFamilyId, byte[] beginKey, byte[] endKey) {}

    @Override
    public void deleteRange(byte[] beginKey, byte[] endKey) {}

    @Override
    public void logData(byte[] blob) {}

    @Override
    public void putBlobIndex(int columnFamilyId, byte[] key, byte[] value) {}

    @Override
    public void markBeginPrepare() {}

    @Override
    public void markEndPrepare(byte[] xid) {}

    @Override
    public void markNoop(boolean emptyBatch) {}

    @Override
    public void markRollback(byte[] xid) {}

    @Override
    public void markCommit(byte[] xid) {}

    @Override
    public void markCommitWithTimestamp(byte[] xid, byte[] commitTimestamp) {}
  }

  /** Fails naming the first differing keys (the tables hold thousands of rows). */
  private static void assertSameRows(String what, Map<String, Row> actual, Map<String, Row> expected) {
    List<String> differences = new ArrayList<>();
    TreeSet<String> keys = new TreeSet<>(actual.keySet());
    keys.addAll(expected.keySet());
    int count = 0;
    for (String key : keys) {
      Row got = actual.get(key);
      Row want = expected.get(key);
      if (!Objects.equals(got, want)) {
        if (++count <= 10) {
          differences.add(key + ": expected " + want + " but was " + got);
        }
      }
    }
    assertThat(differences).as("%s: %d rows differ (%d rows expected, %d present)", what, count,
        expected.size(), actual.size()).isEmpty();
  }

  // ------------------------------------------------------------------ reading both sides

  private static void createTablesAndVersionTriggers(String url) {
    TestPostgres.execute(url, """
        create table kv (key text primary key, version bigint not null, payload text not null);
        create table batches (key text primary key, version bigint not null, payload text not null);
        create table version_seen (tbl text not null, key text not null, version bigint not null,
          primary key (tbl, key));
        create sequence refused_writes;
        create function refuse_old_version() returns trigger language plpgsql as $$
        declare
          seen bigint;
        begin
          select s.version into seen from version_seen s where s.tbl = tg_table_name and s.key = new.key;
          if found and new.version <= seen then
            perform nextval('refused_writes'); -- not rolled back: the test sees even a retried refusal
            raise exception 'table %, key %: version % written after version %: a batch was applied twice',
              tg_table_name, new.key, new.version, seen;
          end if;
          insert into version_seen as s values (tg_table_name, new.key, new.version)
            on conflict (tbl, key) do update set version = excluded.version;
          return null;
        end $$;
        -- "after", because an upsert that updates fires the "before insert" triggers too
        create trigger kv_version after insert or update on kv
          for each row execute function refuse_old_version();
        create trigger batches_version after insert or update on batches
          for each row execute function refuse_old_version();
        """);
  }

  /**
   * Checks that the trigger never refused a write, even one that kv2pg then recovered from: a
   * correct replication never tries to write a batch twice.
   */
  private static void assertNoWriteRefused(String url, String where) {
    assertThat(TestPostgres.query(url, "select is_called from refused_writes"))
        .as("the version trigger refused a write: a batch was written twice (%s)", where)
        .containsExactly(List.of(false));
  }

  /**
   * Makes every checkpoint update take a few milliseconds, so that many kills land while kv2pg
   * writes its checkpoint: if the checkpoint were not in the same transaction as the rows, a kill
   * there would leave rows without their checkpoint (a batch applied again after restart).
   */
  private static void slowDownCheckpointUpdates(String url) {
    TestPostgres.execute(url, """
        create function slow_checkpoint() returns trigger language plpgsql as $$
        begin
          perform pg_sleep(0.01);
          return null;
        end $$;
        create trigger slow_checkpoint after update on kv2pg.replication
          for each row execute function slow_checkpoint();
        """);
  }

  private static long checkpoint(String url) {
    List<List<Object>> rows = TestPostgres.query(url,
        "select applied_sequence from kv2pg.replication where name = '" + CrashChild.REPLICATION + "'");
    assertThat(rows).as("checkpoint row").hasSize(1);
    return ((Number) rows.get(0).get(0)).longValue();
  }

  private static TreeMap<String, Row> table(String url, String table) {
    TreeMap<String, Row> rows = new TreeMap<>();
    for (List<Object> row : TestPostgres.query(url, "select key, version, payload from " + table)) {
      rows.put((String) row.get(0), new Row(((Number) row.get(1)).longValue(), (String) row.get(2)));
    }
    return rows;
  }

  private static TreeMap<String, Row> entries(TestStore store, String family) {
    TreeMap<String, Row> rows = new TreeMap<>();
    for (byte[][] entry : store.entries(family, new byte[0])) {
      rows.put(CrashChild.text(entry[0]), CrashChild.row(entry[1]));
    }
    return rows;
  }

  /** The state of both trees after a given batch, computed from the deterministic history. */
  private static final class History {
    private final long seed;
    private final TreeMap<String, Row> data = new TreeMap<>();
    private final TreeMap<String, Row> batches = new TreeMap<>();
    private long at = -1;

    History(long seed) {
      this.seed = seed;
    }

    Map<String, Row> data(long n) {
      advanceTo(n);
      return data;
    }

    Map<String, Row> batches(long n) {
      advanceTo(n);
      return batches;
    }

    /** The history only moves forward: the test asks for ever later batches. */
    private void advanceTo(long n) {
      if (n < at) {
        throw new IllegalStateException("history is at batch " + at + "; cannot go back to " + n);
      }
      while (at < n) {
        at++;
        for (Op op : CrashChild.batch(seed, at)) {
          Map<String, Row> tree = op.tree().equals(CrashChild.DATA) ? data : batches;
          if (op.isDelete()) {
            tree.remove(op.key());
          } else {
            tree.put(op.key(), new Row(op.version(), op.payload()));
          }
        }
      }
    }
  }
}
