package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * Kills (SIGKILL) a process while it copies a declared table from a large store, twice in a row:
 * the first child copies from the start, the second resumes that copy and is killed too. After each
 * kill the table holds exactly the chunks that the recorded copy progress names (the chunks and the
 * progress commit together), and the checkpoint is the killed run's copy snapshot (a resumed run
 * first brings the rows copied earlier up to its snapshot); the last restart, in this JVM, resumes
 * once more and ends with the table equal to the store. Both children also write to the store while
 * they copy (puts, deletes, merges, range deletes), which the restarts must stream from the
 * write-ahead log.
 *
 * <p>That the copy resumed rather than started again is checked three ways: the second child logs a
 * resuming copy; the final {@code rows_copied} is the killed run's count plus the entries after its
 * {@code resume_after}; and the rows copied before the kills keep their Postgres row versions
 * ({@code xmin}), where a new copy would have rewritten every row.
 */
class CopyCrashTest {
  static final String REPLICATION = "copycrash";
  static final String FAMILY = "items";
  static final String TABLE = "items";
  /** Enough entries that a copy takes many chunks. */
  static final int ENTRIES = 300_000;
  /** Rows per copy transaction: small, so that kills land mid-copy. */
  static final int CHUNK_ROWS = 20_000;
  private static final Duration WAIT = Duration.ofSeconds(90);
  private static final String APPLICATION_NAME = "kv2pg-" + REPLICATION;
  private static final HexFormat HEX = HexFormat.of();

  @TempDir Path dir;

  /** The progress an interrupted copy left in Postgres. */
  private record Progress(long snapshotSequence, byte[] resumeAfter, long rowsCopied, boolean completed) {}

  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void copyKilledTwiceResumesAndEndsEqualToTheStore() throws Exception {
    long seed = new Random().nextLong();
    String context = "seed " + seed;
    System.out.println("CopyCrashTest: " + context);
    String url = TestPostgres.newDatabase();
    Path storeDir = dir.resolve("store");
    try (TestStore store = TestStore.open(storeDir, FAMILY); WriteOptions options = new WriteOptions()) {
      for (int start = 0; start < ENTRIES; start += 10_000) {
        try (WriteBatch batch = new WriteBatch()) {
          for (int id = start; id < start + 10_000; id++) {
            batch.put(store.family(FAMILY), key(id), value("v" + id));
          }
          store.db.write(options, batch);
        }
      }
    }

    // Kill 1: during the first copy, after at least one chunk.
    String where = context + ", kill 1";
    ChildRun first = runChildAndKillDuringCopy(storeDir, url, seed, 1, null, where);
    assertThat(first.output()).as("first child's output (%s)", where)
        .contains("copying mapping '" + TABLE + "'").doesNotContain("(resuming)");
    assertKilledCopyState(url, null, first.progress(), where);

    // Kill 2: during the resumed copy, after it committed at least one more chunk.
    where = context + ", kill 2";
    ChildRun second = runChildAndKillDuringCopy(storeDir, url, seed, 2, first.progress(), where);
    assertThat(second.output()).as("second child's output: the copy resumes (%s)", where)
        .contains("(resuming)");
    assertThat(second.progress().rowsCopied()).as("rows copied grew from the first run's (%s)", where)
        .isGreaterThan(first.progress().rowsCopied());
    assertThat(Arrays.compareUnsigned(second.progress().resumeAfter(), first.progress().resumeAfter()))
        .as("the second run copied on after the first run's last key (%s)", where).isPositive();
    assertKilledCopyState(url, first.progress(), second.progress(), where);

    // Remember each copied row's version, to see which rows the last restart rewrites.
    TestPostgres.execute(url, "create table copied_before as select kv_key, xmin::text as version from " + TABLE);

    // The restart here resumes the copy once more, streams both children's writes, and ends equal.
    where = context + ", final restart";
    try (TestStore store = TestStore.open(storeDir, FAMILY)) {
      long entriesAfterResume = 0;
      List<byte[][]> entries = store.entries(FAMILY, new byte[0]);
      for (byte[][] entry : entries) {
        if (Arrays.compareUnsigned(entry[0], second.progress().resumeAfter()) > 0) {
          entriesAfterResume++;
        }
      }
      RunningReplication running = replication(store, url).start();
      try {
        assertThat(running.awaitCaughtUp(WAIT)).as("caught up (%s): %s", where, running.status()).isTrue();
      } finally {
        running.stop();
      }
      assertThat(running.status().failure()).as("failure (%s)", where).isEmpty();
      assertTableEqualsStore(url, entries, where);
      assertThat(checkpoint(url)).as("checkpoint (%s)", where).isEqualTo(store.db.getLatestSequenceNumber());

      Progress done = progress(url);
      assertThat(done.completed()).as("copy completed (%s)", where).isTrue();
      // Resumed: the killed run's count plus what followed its last key; a fresh copy would count
      // every entry of its snapshot instead.
      assertThat(done.rowsCopied()).as("rows_copied after resuming from %d rows (%s)",
              second.progress().rowsCopied(), where)
          .isEqualTo(second.progress().rowsCopied() + entriesAfterResume);
      long kept = ((Number) TestPostgres.query(url, "select count(*) from " + TABLE + " t join copied_before c"
          + " on c.kv_key = t.kv_key and c.version = t.xmin::text").get(0).get(0)).longValue();
      System.out.printf("CopyCrashTest %s: killed at %d and %d copied rows; %d of them not rewritten by the"
              + " last restart; final rows_copied %d, %d entries%n", context, first.progress().rowsCopied(),
          second.progress().rowsCopied(), kept, done.rowsCopied(), entries.size());
      // Only rows that the children's writes touched may have been rewritten (they write a few
      // thousand keys at most); a copy started again would have rewritten all of them.
      assertThat(kept).as("rows copied before the kills and left as they were (%s)", where)
          .isGreaterThan(second.progress().rowsCopied() / 2);
    }
  }

  // ------------------------------------------------------------------ the child process

  private record ChildRun(Progress progress, String output) {}

  /**
   * Starts a child that replicates and writes, waits until the copy progress in Postgres moved past
   * {@code after} (at least one chunk) while the copy is still incomplete, and kills it.
   */
  private static ChildRun runChildAndKillDuringCopy(Path storeDir, String url, long seed, int round,
      Progress after, String where) throws Exception {
    String output;
    try (ChildJvm child = ChildJvm.start(Child.class, null,
        storeDir.toString(), url, Long.toString(seed * 31 + round))) {
      Process process = child.process;
      long floor = after == null ? 0 : after.rowsCopied();
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (true) {
        if (!process.isAlive()) {
          fail("the child exited with code %d before it could be killed (%s); output:%n%s",
              process.exitValue(), where, child.output());
        }
        Progress progress = progressIfAny(url);
        if (progress != null && progress.completed()) {
          fail("the copy completed before the kill (%s): make the store larger; output:%n%s", where,
              child.output());
        }
        if (progress != null && progress.rowsCopied() > floor) {
          break;
        }
        if (System.nanoTime() > deadline) {
          fail("no copy progress past %d rows within %s (%s); output:%n%s", floor, WAIT, where, child.output());
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
      }
      child.kill(WAIT, where);
      output = child.output();
    }
    ChildJvm.awaitSessionGone(url, APPLICATION_NAME, WAIT, where);
    // Read after the child's session is gone: a commit it had sent may have landed meanwhile.
    Progress progress = progress(url);
    System.out.printf("CopyCrashTest %s: killed with %d rows copied, through key %s%n", where,
        progress.rowsCopied(), HEX.formatHex(progress.resumeAfter()));
    return new ChildRun(progress, output);
  }

  /**
   * The process that the test kills: it opens the store, starts the replication, and writes small
   * random batches until it is killed. Arguments: store directory, JDBC URL, seed. Exits by itself
   * only on trouble: 3 when the replication failed, 4 after 120 s (an orphan whose test died).
   */
  public static final class Child {
    private Child() {}

    public static void main(String[] args) throws Exception {
      Path dir = Path.of(args[0]);
      String url = args[1];
      Random random = new Random(Long.parseLong(args[2]));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      try (TestStore store = TestStore.open(dir, FAMILY); WriteOptions options = new WriteOptions()) {
        ColumnFamilyHandle items = store.family(FAMILY);
        RunningReplication running = replication(store, url).start();
        for (long n = 0; ; n++) {
          try (WriteBatch batch = new WriteBatch()) {
            int size = 1 + random.nextInt(5);
            for (int i = 0; i < size; i++) {
              int id = random.nextInt(ENTRIES + ENTRIES / 10);
              switch (random.nextInt(10)) {
                case 0, 1, 2, 3 -> batch.put(items, key(id), value("c" + n + "." + i));
                case 4, 5 -> batch.delete(items, key(id));
                case 6, 7, 8 -> batch.merge(items, key(id), value("m" + n));
                default -> batch.deleteRange(items, key(id), key(id + 1 + random.nextInt(20)));
              }
            }
            store.db.write(options, batch);
          }
          ReplicationStatus status = running.status();
          if (status.state() == ReplicationState.FAILED) {
            System.out.println("FAILED: " + status.failure().map(Throwable::toString).orElse("?"));
            System.out.flush();
            System.exit(3);
          }
          if (System.nanoTime() > deadline) {
            System.out.println("TIMEOUT: nobody killed this process");
            System.out.flush();
            System.exit(4);
          }
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
        }
      }
    }
  }

  // ------------------------------------------------------------------ the replication and checks

  static Replication replication(TestStore store, String url) {
    return Replication.builder()
        .postgres(url)
        .source(store.db)
        .name(REPLICATION)
        .copyChunkRows(CHUNK_ROWS)
        .tree(TreeMapping.builder(store.family(FAMILY))
            .table(TABLE)
            .keyColumn("id", Decoders.int64())
            .valueColumn("v", Decoders.utf8())
            .build())
        .build();
  }

  static byte[] key(long id) {
    return ByteBuffer.allocate(8).putLong(id).array();
  }

  static byte[] value(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  /**
   * After a kill the table holds exactly the chunks the killed run copied, after the previous run's
   * last key, up to the recorded last key; before copying, the run brought the checkpoint (and the
   * rows up to the previous run's last key) to its snapshot.
   */
  private static void assertKilledCopyState(String url, Progress previous, Progress progress, String where) {
    assertThat(progress.completed()).as("copy still incomplete after the kill (%s)", where).isFalse();
    assertThat(progress.resumeAfter()).as("resume_after (%s)", where).isNotNull();
    String after = previous == null ? "" : " where kv_key > '\\x" + HEX.formatHex(previous.resumeAfter()) + "'";
    List<List<Object>> rows = TestPostgres.query(url, "select count(*), (select kv_key from " + TABLE
        + " order by kv_key desc limit 1) from " + TABLE + after);
    assertThat(((Number) rows.get(0).get(0)).longValue())
        .as("rows the killed run copied, in the table (%s)", where)
        .isEqualTo(progress.rowsCopied() - (previous == null ? 0 : previous.rowsCopied()));
    assertThat(HEX.formatHex((byte[]) rows.get(0).get(1))).as("last key in the table after the kill (%s)", where)
        .isEqualTo(HEX.formatHex(progress.resumeAfter()));
    assertThat(checkpoint(url)).as("checkpoint: the killed run's copy snapshot (%s)", where)
        .isEqualTo(progress.snapshotSequence());
    assertThat(TestPostgres.query(url, "select failure from kv2pg.replication where name = '" + REPLICATION + "'"))
        .as("recorded failure (%s)", where).containsExactly(Arrays.asList((Object) null));
  }

  private static void assertTableEqualsStore(String url, List<byte[][]> entries, String where) {
    List<String> expected = new ArrayList<>(entries.size());
    for (byte[][] entry : entries) {
      expected.add(ByteBuffer.wrap(entry[0]).getLong() + "|" + new String(entry[1], StandardCharsets.UTF_8)
          + "|" + HEX.formatHex(entry[0]));
    }
    List<String> actual = new ArrayList<>(expected.size());
    for (List<Object> row : TestPostgres.query(url, "select id, v, kv_key from " + TABLE + " order by kv_key")) {
      actual.add(row.get(0) + "|" + row.get(1) + "|" + HEX.formatHex((byte[]) row.get(2)));
    }
    if (!actual.equals(expected)) {
      Map<String, String> want = new TreeMap<>();
      expected.forEach(row -> want.put(keyOf(row), row));
      Map<String, String> got = new TreeMap<>();
      actual.forEach(row -> got.put(keyOf(row), row));
      TreeSet<String> keys = new TreeSet<>(want.keySet());
      keys.addAll(got.keySet());
      List<String> differences = new ArrayList<>();
      for (String key : keys) {
        if (!Objects.equals(want.get(key), got.get(key)) && differences.size() < 10) {
          differences.add("expected " + want.get(key) + " but was " + got.get(key));
        }
      }
      fail("table %s differs from the store (%s): %d rows, %d entries; first differences: %s", TABLE, where,
          actual.size(), expected.size(), differences);
    }
  }

  /** The hex key at the end of a rendered row. */
  private static String keyOf(String row) {
    return row.substring(row.lastIndexOf('|') + 1);
  }

  private static Progress progressIfAny(String url) {
    List<List<Object>> rows;
    try {
      rows = TestPostgres.query(url, "select snapshot_sequence, resume_after, rows_copied, completed_at is not null"
          + " from kv2pg.mapping_copy where replication = '" + REPLICATION + "'");
    } catch (IllegalStateException e) {
      return null; // kv2pg's schema does not exist yet
    }
    if (rows.isEmpty()) {
      return null;
    }
    List<Object> row = rows.get(0);
    return new Progress(((Number) row.get(0)).longValue(), (byte[]) row.get(1), ((Number) row.get(2)).longValue(),
        (Boolean) row.get(3));
  }

  private static Progress progress(String url) {
    Progress progress = progressIfAny(url);
    assertThat(progress).as("the copy progress row").isNotNull();
    return progress;
  }

  private static long checkpoint(String url) {
    List<List<Object>> rows = TestPostgres.query(url,
        "select applied_sequence from kv2pg.replication where name = '" + REPLICATION + "'");
    assertThat(rows).as("checkpoint row").hasSize(1);
    return ((Number) rows.get(0).get(0)).longValue();
  }
}
