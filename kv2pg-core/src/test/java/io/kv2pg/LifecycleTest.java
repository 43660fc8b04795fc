package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.ds.PGSimpleDataSource;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * Start, stop, restart and the other things a replication's life is made of, against a real
 * PostgreSQL and a real RocksDB. Tables are always compared whole against the store.
 */
class LifecycleTest {
  private static final Duration WAIT = Duration.ofSeconds(120);
  private static final HexFormat HEX = HexFormat.of();

  @TempDir Path dir;

  // ------------------------------------------------------------------ start and restart

  @Test
  void writesMadeBeforeStartAndWhileStoppedAreAppliedAtTheNextStart() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      for (int i = 0; i < 500; i++) {
        store.db.put(cf, key(i), value(i, 0));
      }
      Replication replication = Replication.builder().postgres(url).source(store.db).name("life")
          .tree(bytesMapping(cf, "t", new byte[0], null)).build();

      try (RunningReplication running = replication.start()) {
        store.db.put(cf, key(500), value(500, 0)); // made after start, before the copy ends
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertThat(table(url, "t")).hasSize(501).containsExactlyElementsOf(store(store, "cf1", new byte[0]));
        assertThat(running.status().state()).isEqualTo(ReplicationState.STREAMING);
      }

      // While stopped: updates, deletes, new keys, and a batch mixing them.
      for (int i = 0; i < 100; i++) {
        store.db.put(cf, key(i), value(i, 1));
      }
      for (int i = 100; i < 200; i++) {
        store.db.delete(cf, key(i));
      }
      for (int i = 600; i < 700; i++) {
        store.db.put(cf, key(i), value(i, 1));
      }
      try (WriteBatch batch = new WriteBatch(); WriteOptions options = new WriteOptions()) {
        batch.put(cf, key(0), value(0, 2));
        batch.delete(cf, key(1));
        batch.put(cf, key(150), value(150, 2)); // deleted above, back again
        batch.put(cf, key(1000), value(1000, 2));
        store.db.write(options, batch);
      }
      assertThat(table(url, "t")).as("the table is stale while stopped")
          .isNotEqualTo(store(store, "cf1", new byte[0]));

      try (RunningReplication running = replication.start()) {
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertThat(table(url, "t")).containsExactlyElementsOf(store(store, "cf1", new byte[0]));
        ReplicationStatus status = running.status();
        assertThat(status.state()).isEqualTo(ReplicationState.STREAMING);
        assertThat(status.appliedSequence()).isEqualTo(store.db.getLatestSequenceNumber());
      }
      assertThat(appliedSequence(url, "life")).isEqualTo(store.db.getLatestSequenceNumber());
    }
  }

  // ------------------------------------------------------------------ stop

  @Test
  void stopDrainsWritesMadeBeforeItAndIsIdempotent() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      store.db.put(cf, key(-1), value(-1, 0));
      Replication replication = Replication.builder().postgres(url).source(store.db).name("drain")
          .tree(bytesMapping(cf, "t", new byte[0], null)).build();
      RunningReplication running = replication.start();
      try {
        assertThat(running.awaitCaughtUp(WAIT)).isTrue(); // streaming now

        for (int i = 0; i < 3000; i++) {
          store.db.put(cf, key(i), value(i, 0));
          if (i % 10 == 9) {
            store.db.delete(cf, key(i - 5));
          }
          if (i % 500 == 0) {
            try (WriteBatch batch = new WriteBatch(); WriteOptions options = new WriteOptions()) {
              for (int j = 0; j < 200; j++) {
                batch.put(cf, key(100_000 + i + j), value(i, j));
              }
              batch.delete(cf, key(-1));
              store.db.write(options, batch);
            }
          }
        }
        long last = store.db.getLatestSequenceNumber();
        running.stop(); // no awaitCaughtUp: stop itself must drain

        assertThat(table(url, "t")).containsExactlyElementsOf(store(store, "cf1", new byte[0]));
        assertThat(appliedSequence(url, "drain")).isEqualTo(last);
        ReplicationStatus status = running.status();
        assertThat(status.state()).isEqualTo(ReplicationState.STOPPED);
        assertThat(status.appliedSequence()).isEqualTo(last);
        assertThat(status.failure()).isEmpty();

        assertThatCode(running::stop).doesNotThrowAnyException();
        assertThatCode(running::close).doesNotThrowAnyException();
        assertThat(running.status().state()).isEqualTo(ReplicationState.STOPPED);
        assertThat(running.awaitCaughtUp(Duration.ofSeconds(1))).as("caught up when it stopped").isTrue();

        store.db.put(cf, key(5), value(5, 9)); // after the stop: not applied by this run
        assertThat(running.awaitCaughtUp(Duration.ofSeconds(1))).as("stopped before catching up").isFalse();
        assertThatThrownBy(() -> running.awaitCaughtUp(Duration.ofSeconds(-1)))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("timeout");
        assertThat(appliedSequence(url, "drain")).isEqualTo(last);
      } finally {
        running.close();
      }
    }
  }

  /**
   * A restart with nothing to copy has no initial copy to excuse it: a stop() called before the
   * replication reached STREAMING must still apply what was written before the call.
   */
  @Test
  void stopRightAfterARestartStillDrains() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      for (int i = 0; i < 100; i++) {
        store.db.put(cf, key(i), value(i, 0));
      }
      Replication replication = Replication.builder().postgres(url).source(store.db).name("quick")
          .tree(bytesMapping(cf, "t", new byte[0], null)).build();
      try (RunningReplication running = replication.start()) {
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
      }
      for (int round = 1; round <= 3; round++) {
        for (int i = 0; i < 100; i++) {
          store.db.put(cf, key(i + round * 50), value(i, round));
        }
        store.db.delete(cf, key(round));
        long last = store.db.getLatestSequenceNumber();
        RunningReplication running = replication.start();
        running.stop(); // most likely still STARTING
        assertThat(running.status().state()).isEqualTo(ReplicationState.STOPPED);
        assertThat(table(url, "t")).as("round %s", round)
            .containsExactlyElementsOf(store(store, "cf1", new byte[0]));
        assertThat(appliedSequence(url, "quick")).isEqualTo(last);
      }
    }
  }

  /**
   * stopAtNextCommit does not drain: with a large backlog it ends at a commit short of the store's
   * latest sequence, the checkpoint is that commit, and the next start applies the rest.
   */
  @Test
  void stopAtNextCommitLeavesTheBacklogToTheNextStart() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      store.db.put(cf, key(-1), value(-1, 0));
      Replication replication = Replication.builder().postgres(url).source(store.db).name("halt")
          .tree(bytesMapping(cf, "t", new byte[0], null)).build();
      RunningReplication running = replication.start();
      long last;
      try {
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        long before = running.status().appliedSequence();
        for (int i = 0; i < 200_000; i += 100) {
          try (WriteBatch batch = new WriteBatch(); WriteOptions options = new WriteOptions()) {
            for (int j = i; j < i + 100; j++) {
              batch.put(cf, key(j), value(j, 1));
            }
            store.db.write(options, batch);
          }
        }
        last = store.db.getLatestSequenceNumber();
        Await.status(running, WAIT, "the backlog being applied", status -> status.appliedSequence() > before);

        running.stopAtNextCommit(Duration.ofSeconds(10));

        ReplicationStatus status = running.status();
        assertThat(status.state()).isEqualTo(ReplicationState.STOPPED);
        assertThat(status.failure()).isEmpty();
        assertThat(status.appliedSequence()).as("stopped short of the backlog's end").isLessThan(last);
        assertThat(status.sequenceLag()).isEqualTo(last - status.appliedSequence());
        assertThat(appliedSequence(url, "halt")).isEqualTo(status.appliedSequence());
        assertThatCode(running::stop).as("stop() after it does not drain now").doesNotThrowAnyException();
        assertThat(running.status().appliedSequence()).isEqualTo(status.appliedSequence());
        assertThatThrownBy(() -> running.stopAtNextCommit(null)).isInstanceOf(IllegalArgumentException.class);
      } finally {
        running.close();
      }
      try (RunningReplication again = replication.start()) {
        assertThat(again.awaitCaughtUp(WAIT)).isTrue();
      }
      assertThat(table(url, "t")).containsExactlyElementsOf(store(store, "cf1", new byte[0]));
      assertThat(appliedSequence(url, "halt")).isEqualTo(last);
    }
  }

  /** Values large enough that a copy chunk is cut by its byte budget, not by its row count. */
  @Test
  void initialCopyOfLargeValuesCopiesEveryEntry() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      byte[] big = new byte[256 << 10];
      for (int i = 0; i < 100; i++) { // 25 MB in all
        Arrays.fill(big, (byte) i);
        ByteBuffer.wrap(big).putInt(i);
        store.db.put(cf, key(i), big);
      }
      Replication replication = Replication.builder().postgres(url).source(store.db).name("large")
          .tree(bytesMapping(cf, "t", new byte[0], null)).build();
      try (RunningReplication running = replication.start()) {
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertThat(TestPostgres.query(url, "select count(*), sum(length(v)) from t"))
            .containsExactly(List.of(100L, 100L * (256 << 10)));
        assertThat(table(url, "t")).containsExactlyElementsOf(store(store, "cf1", new byte[0]));
      }
    }
  }

  @Test
  void stopAndCloseDoNotThrowAfterAFailure() throws Exception {
    String url = TestPostgres.newDatabase();
    byte[] poison = "poison".getBytes(StandardCharsets.UTF_8);
    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      store.db.put(cf, key(1), value(1, 0));
      TreeMapping mapping = TreeMapping.builder(cf)
          .createCommands("create table if not exists t (k bytea primary key, v bytea not null)")
          .insert("insert into t (k, v) values ($1, $2) on conflict (k) do update set v = excluded.v",
              (k, v) -> {
                if (Arrays.equals(v, poison)) {
                  throw new IllegalStateException("cannot map this value");
                }
                return Params.of(k, v);
              })
          .remove("delete from t where k = $1", k -> Params.of(k))
          .build();
      Replication replication = Replication.builder().postgres(url).source(store.db).name("fails")
          .tree(mapping).build();
      RunningReplication running = replication.start();
      assertThat(running.awaitCaughtUp(WAIT)).isTrue();

      store.db.put(cf, key(2), poison);
      assertThat(running.awaitCaughtUp(WAIT)).as("a failed replication never catches up").isFalse();
      ReplicationStatus failed = running.status();
      assertThat(failed.state()).isEqualTo(ReplicationState.FAILED);
      assertThat(failed.failure()).isPresent();
      assertThat(failed.failure().get().keyHex()).contains(HEX.formatHex(key(2)));

      assertThatCode(running::stop).doesNotThrowAnyException();
      assertThatCode(running::stop).doesNotThrowAnyException();
      assertThatCode(running::close).doesNotThrowAnyException();
      ReplicationStatus after = running.status();
      assertThat(after.state()).isEqualTo(ReplicationState.FAILED);
      assertThat(after.failure()).containsSame(failed.failure().get());
      assertThat(running.awaitCaughtUp(Duration.ofSeconds(1))).isFalse();
      assertThat(TestPostgres.query(url, "select failure is not null from kv2pg.replication where name = 'fails'"))
          .containsExactly(List.of(true));
    }
  }

  @Test
  void stopDuringTheInitialCopyResumesTheCopyAtTheNextStart() throws Exception {
    String url = TestPostgres.newDatabase();
    int total = 200_000;
    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      try (WriteOptions options = new WriteOptions()) {
        for (int start = 0; start < total; start += 10_000) {
          try (WriteBatch batch = new WriteBatch()) {
            for (int i = start; i < start + 10_000; i++) {
              batch.put(cf, key(i), smallValue(i));
            }
            store.db.write(options, batch);
          }
        }
      }
      Replication replication = Replication.builder().postgres(url).source(store.db).name("big")
          .copyChunkRows(20_000)
          .tree(bytesMapping(cf, "t", new byte[0], null)).build();

      RunningReplication first = replication.start();
      try {
        Await.status(first, WAIT, "the initial copy to commit its first rows", status -> {
          if (status.state() == ReplicationState.STREAMING || status.state() == ReplicationState.FAILED
              || status.state() == ReplicationState.STOPPED) {
            fail("expected to catch the replication in its initial copy, but it is " + status);
          }
          return status.state() == ReplicationState.COPYING && status.rowsApplied() > 0;
        });
        first.stop();
      } finally {
        first.close();
      }
      assertThat(first.status().state()).isEqualTo(ReplicationState.STOPPED);
      assertThat(first.status().failure()).isEmpty();

      // Part of the rows: a prefix of the key space, exactly as the store holds it.
      List<String> partial = table(url, "t");
      List<List<Object>> progress = TestPostgres.query(url,
          "select rows_copied, resume_after, completed_at from kv2pg.mapping_copy"
              + " where replication = 'big' and mapping = 'cf1'");
      assertThat(progress).hasSize(1);
      long rowsCopied = (Long) progress.get(0).get(0);
      byte[] resumeAfter = (byte[]) progress.get(0).get(1);
      assertThat(progress.get(0).get(2)).as("completed_at").isNull();
      assertThat(partial.size()).as("rows copied before the stop").isBetween(1, total - 1);
      assertThat(rowsCopied).isEqualTo(partial.size());
      List<String> storedUpToResumePoint = new ArrayList<>();
      for (byte[][] entry : store.entries("cf1", new byte[0])) {
        if (Arrays.compareUnsigned(entry[0], resumeAfter) <= 0) {
          storedUpToResumePoint.add(row(entry[0], entry[1]));
        }
      }
      assertThat(partial).containsExactlyElementsOf(sorted(storedUpToResumePoint));
      Map<String, String> xminAfterFirstRun = xmins(url, "t");

      // While stopped: change keys on both sides of the resume point.
      int resumeKey = ByteBuffer.wrap(resumeAfter).getInt() ^ Integer.MIN_VALUE;
      List<byte[]> touched = List.of(key(0), key(1), key(resumeKey), key(total - 1), key(total - 2),
          key(total + 5));
      store.db.put(cf, key(0), value(0, 7));        // copied, updated
      store.db.delete(cf, key(1));                  // copied, deleted
      store.db.put(cf, key(resumeKey), value(0, 7)); // the resume point itself
      store.db.put(cf, key(total - 1), value(0, 7)); // not copied yet, updated
      store.db.delete(cf, key(total - 2));           // not copied yet, deleted
      store.db.put(cf, key(total + 5), value(0, 7)); // new

      long expectedRowsCopied = rowsCopied;
      for (byte[][] entry : store.entries("cf1", new byte[0])) {
        if (Arrays.compareUnsigned(entry[0], resumeAfter) > 0) {
          expectedRowsCopied++;
        }
      }

      try (RunningReplication second = replication.start()) {
        assertThat(second.awaitCaughtUp(WAIT)).isTrue();
        assertThat(table(url, "t")).containsExactlyElementsOf(store(store, "cf1", new byte[0]));
        assertThat(second.status().state()).isEqualTo(ReplicationState.STREAMING);
      }
      List<List<Object>> done = TestPostgres.query(url,
          "select rows_copied, completed_at is not null from kv2pg.mapping_copy"
              + " where replication = 'big' and mapping = 'cf1'");
      assertThat(done).containsExactly(List.of(expectedRowsCopied, true));
      assertThat(expectedRowsCopied).isLessThan(rowsCopied + total); // not re-read from the start

      // Rows copied by the first run and not written since were not written again.
      Map<String, String> xminAfterSecondRun = xmins(url, "t");
      int kept = 0;
      for (Map.Entry<String, String> row : xminAfterFirstRun.entrySet()) {
        boolean wasTouched = touched.stream().anyMatch(k -> HEX.formatHex(k).equals(row.getKey()));
        if (!wasTouched) {
          assertThat(xminAfterSecondRun.get(row.getKey())).as("xmin of key %s", row.getKey())
              .isEqualTo(row.getValue());
          kept++;
        }
      }
      assertThat(kept).isGreaterThan(0);
    }
  }

  // ------------------------------------------------------------------ mappings

  @Test
  void aMappingAddedToAnExistingReplicationIsCopiedWithoutRecopyingTheOthers() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "cf1", "cf2")) {
      ColumnFamilyHandle cf1 = store.family("cf1");
      ColumnFamilyHandle cf2 = store.family("cf2");
      for (int i = 0; i < 300; i++) {
        store.db.put(cf1, key(i), value(i, 1));
        store.db.put(cf2, key(i), value(i, 2));
      }
      TreeMapping a = bytesMapping(cf1, "table_a", new byte[0], null);
      TreeMapping b = bytesMapping(cf2, "table_b", new byte[0], null);

      try (RunningReplication running = Replication.builder().postgres(url).source(store.db).name("grow")
          .tree(a).build().start()) {
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertThat(table(url, "table_a")).containsExactlyElementsOf(store(store, "cf1", new byte[0]));
        store.db.put(cf2, key(1000), value(1000, 2)); // streamed past, tree not mapped yet
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
      }
      List<List<Object>> copyOfA = TestPostgres.query(url,
          "select snapshot_sequence, rows_copied, completed_at from kv2pg.mapping_copy where mapping = 'cf1'");
      assertThat(TestPostgres.query(url, "select count(*) from pg_tables where tablename = 'table_b'"))
          .containsExactly(List.of(0L));

      // Behind kv2pg's back: a re-copy of table_a would undo this.
      TestPostgres.execute(url, "update table_a set v = '\\xdeadbeef' where k = '\\x" + HEX.formatHex(key(7)) + "'");
      // While stopped.
      store.db.put(cf1, key(1000), value(1000, 1));
      store.db.delete(cf1, key(3));
      store.db.put(cf2, key(0), value(0, 22));
      store.db.delete(cf2, key(4));

      try (RunningReplication running = Replication.builder().postgres(url).source(store.db).name("grow")
          .tree(a).tree(b).build().start()) {
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertThat(table(url, "table_b")).containsExactlyElementsOf(store(store, "cf2", new byte[0]));
        List<String> expectedA = new ArrayList<>();
        for (byte[][] entry : store.entries("cf1", new byte[0])) {
          expectedA.add(Arrays.equals(entry[0], key(7))
              ? row(entry[0], HEX.parseHex("deadbeef")) : row(entry[0], entry[1]));
        }
        assertThat(table(url, "table_a")).containsExactlyElementsOf(sorted(expectedA));
        assertThat(TestPostgres.query(url,
            "select snapshot_sequence, rows_copied, completed_at from kv2pg.mapping_copy where mapping = 'cf1'"))
            .as("the old mapping's copy record is untouched").isEqualTo(copyOfA);
        assertThat(TestPostgres.query(url,
            "select rows_copied, completed_at is not null from kv2pg.mapping_copy where mapping = 'cf2'"))
            .containsExactly(List.of((long) store.entries("cf2", new byte[0]).size(), true));

        // Both stream from now on.
        store.db.put(cf1, key(7), value(7, 3));
        store.db.put(cf2, key(7), value(7, 3));
        store.db.delete(cf2, key(8));
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertThat(table(url, "table_a")).containsExactlyElementsOf(store(store, "cf1", new byte[0]));
        assertThat(table(url, "table_b")).containsExactlyElementsOf(store(store, "cf2", new byte[0]));
      }
    }
  }

  @Test
  void severalMappingsOfOneTreeEachGetExactlyTheirKeys() throws Exception {
    String url = TestPostgres.newDatabase();
    byte[] prefixA = utf8("a:");
    byte[] prefixB = utf8("b:");
    byte[] all = new byte[0];
    try (TestStore store = TestStore.open(dir, "shared")) {
      ColumnFamilyHandle cf = store.family("shared");
      List<String> keys = new ArrayList<>(List.of("a", "a:", "ab:1", "b", "b:", "b;1", "c:1", "A:1", ""));
      for (int i = 0; i < 100; i++) {
        keys.add("a:" + i);
        keys.add("b:" + i);
        keys.add("c:" + i);
      }
      for (int i = 0; i < keys.size(); i += 2) { // half before start
        store.db.put(cf, utf8(keys.get(i)), utf8("v0-" + keys.get(i)));
      }
      store.db.put(cf, new byte[] {'a', ':', (byte) 0xff}, new byte[] {(byte) 0x80});

      Replication replication = Replication.builder().postgres(url).source(store.db).name("split")
          .tree(bytesMapping(cf, "table_a", prefixA, null))
          .tree(bytesMapping(cf, "table_b", prefixB, null))
          .tree(bytesMapping(cf, "table_a2", prefixA, "a-again"))
          .tree(bytesMapping(cf, "table_all", all, null))
          .build();
      assertThat(replication.trees()).extracting(TreeMapping::name)
          .containsExactly("shared/613a", "shared/623a", "a-again", "shared");
      try (RunningReplication running = replication.start()) {
        for (int i = 1; i < keys.size(); i += 2) { // the other half after start
          store.db.put(cf, utf8(keys.get(i)), utf8("v1-" + keys.get(i)));
        }
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertTables(url, store, prefixA, prefixB, all);

        try (WriteBatch batch = new WriteBatch(); WriteOptions options = new WriteOptions()) {
          batch.put(cf, utf8("a:5"), utf8("v2"));
          batch.delete(cf, utf8("b:5"));
          batch.delete(cf, utf8("a:6"));
          batch.put(cf, utf8("b:6"), utf8("v2"));
          batch.delete(cf, utf8("a"));
          batch.delete(cf, utf8("a:"));
          batch.put(cf, utf8("c:6"), utf8("v2"));
          batch.put(cf, utf8("b:new"), utf8("v2"));
          store.db.write(options, batch);
        }
        for (int i = 0; i < 100; i += 3) {
          store.db.delete(cf, utf8("a:" + i));
          store.db.put(cf, utf8("b:" + i), utf8("v3"));
        }
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertTables(url, store, prefixA, prefixB, all);
      }
    }
  }

  private static void assertTables(String url, TestStore store, byte[] prefixA, byte[] prefixB, byte[] all) {
    List<String> a = store(store, "shared", prefixA);
    List<String> b = store(store, "shared", prefixB);
    assertThat(a).isNotEmpty();
    assertThat(b).isNotEmpty();
    assertThat(a).allMatch(row -> row.startsWith("613a"));
    assertThat(table(url, "table_a")).containsExactlyElementsOf(a);
    assertThat(table(url, "table_a2")).containsExactlyElementsOf(a);
    assertThat(table(url, "table_b")).containsExactlyElementsOf(b);
    assertThat(table(url, "table_all")).containsExactlyElementsOf(store(store, "shared", all))
        .hasSizeGreaterThan(a.size() + b.size());
  }

  // ------------------------------------------------------------------ connections and names

  @Test
  void postgresFromADataSource() throws Exception {
    String url = TestPostgres.newDatabase();
    PGSimpleDataSource dataSource = new PGSimpleDataSource();
    dataSource.setURL(url);
    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      for (int i = 0; i < 100; i++) {
        store.db.put(cf, key(i), value(i, 0));
      }
      Replication replication = Replication.builder().postgres(dataSource).source(store.db).name("ds")
          .tree(bytesMapping(cf, "t", new byte[0], null)).build();
      assertThat(replication.toString()).contains("DataSource");
      try (RunningReplication running = replication.start()) {
        for (int i = 50; i < 150; i++) {
          store.db.put(cf, key(i), value(i, 1));
        }
        store.db.delete(cf, key(0));
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertThat(table(url, "t")).containsExactlyElementsOf(store(store, "cf1", new byte[0]));
        assertThat(running.status().state()).isEqualTo(ReplicationState.STREAMING);
      }
      assertThat(appliedSequence(url, "ds")).isEqualTo(store.db.getLatestSequenceNumber());
    }
  }

  @Test
  void aSecondRunOfTheSameNameFailsAndLeavesTheFirstAlone() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      for (int i = 0; i < 100; i++) {
        store.db.put(cf, key(i), value(i, 0));
      }
      Replication replication = Replication.builder().postgres(url).source(store.db).name("solo")
          .tree(bytesMapping(cf, "t", new byte[0], null)).build();
      try (RunningReplication first = replication.start()) {
        assertThat(first.awaitCaughtUp(WAIT)).isTrue();

        RunningReplication second = replication.start();
        try {
          store.db.put(cf, key(200), value(200, 0));
          assertThat(second.awaitCaughtUp(WAIT)).isFalse();
          ReplicationStatus failed = second.status();
          assertThat(failed.state()).isEqualTo(ReplicationState.FAILED);
          assertThat(failed.failure()).isPresent();
          assertThat(failed.failure().get()).hasMessageContaining("already running")
              .hasMessageContaining("solo");
          assertThat(failed.failure().get().kind()).isEqualTo(ReplicationException.Kind.ALREADY_RUNNING);
        } finally {
          assertThatCode(second::close).doesNotThrowAnyException();
        }

        // The first one never noticed.
        store.db.put(cf, key(201), value(201, 0));
        store.db.delete(cf, key(5));
        assertThat(first.awaitCaughtUp(WAIT)).isTrue();
        assertThat(first.status().state()).isEqualTo(ReplicationState.STREAMING);
        assertThat(first.status().failure()).isEmpty();
        assertThat(table(url, "t")).containsExactlyElementsOf(store(store, "cf1", new byte[0]));
        assertThat(TestPostgres.query(url, "select applied_sequence, failure from kv2pg.replication where name = 'solo'"))
            .containsExactly(Arrays.asList(store.db.getLatestSequenceNumber(), null));
      }
    }
  }

  @Test
  void twoNamesReplicateIndependently() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      for (int i = 0; i < 200; i++) {
        store.db.put(cf, key(i), value(i, 0));
      }
      Replication alpha = Replication.builder().postgres(url).source(store.db).name("alpha")
          .tree(bytesMapping(cf, "t_alpha", new byte[0], null)).build();
      Replication beta = Replication.builder().postgres(url).source(store.db).name("beta")
          .tree(bytesMapping(cf, "t_beta", new byte[0], null)).build();
      try (RunningReplication runningAlpha = alpha.start()) {
        List<String> betaSeen;
        try (RunningReplication runningBeta = beta.start()) {
          for (int i = 100; i < 300; i++) {
            store.db.put(cf, key(i), value(i, 1));
          }
          assertThat(runningAlpha.awaitCaughtUp(WAIT)).isTrue();
          assertThat(runningBeta.awaitCaughtUp(WAIT)).isTrue();
          assertThat(table(url, "t_alpha")).containsExactlyElementsOf(store(store, "cf1", new byte[0]));
          assertThat(table(url, "t_beta")).containsExactlyElementsOf(store(store, "cf1", new byte[0]));
          betaSeen = table(url, "t_beta");
        }
        // beta stopped, alpha goes on.
        for (int i = 0; i < 50; i++) {
          store.db.delete(cf, key(i));
          store.db.put(cf, key(1000 + i), value(i, 2));
        }
        assertThat(runningAlpha.awaitCaughtUp(WAIT)).isTrue();
        assertThat(table(url, "t_alpha")).containsExactlyElementsOf(store(store, "cf1", new byte[0]));
        assertThat(table(url, "t_beta")).isEqualTo(betaSeen);
        assertThat(runningAlpha.status().state()).isEqualTo(ReplicationState.STREAMING);

        try (RunningReplication runningBeta = beta.start()) {
          assertThat(runningBeta.awaitCaughtUp(WAIT)).isTrue();
          assertThat(table(url, "t_beta")).containsExactlyElementsOf(store(store, "cf1", new byte[0]));
        }
        assertThat(TestPostgres.query(url, "select name, applied_sequence from kv2pg.replication order by name"))
            .containsExactly(List.of("alpha", store.db.getLatestSequenceNumber()),
                List.of("beta", store.db.getLatestSequenceNumber()));
      }
    }
  }

  // ------------------------------------------------------------------ foreign keys

  /**
   * The child mapping is declared first, so kv2pg writes child rows before their parents and
   * deletes parents before their children within a transaction: only a deferred foreign key,
   * checked at commit, lets that through, and it holds only if every transaction ends in a state
   * the store really had.
   */
  @Test
  void deferredForeignKeysHoldAcrossTrees() throws Exception {
    String url = TestPostgres.newDatabase();
    String createParent = "create table if not exists parent (id int primary key, name text not null)";
    String createChild = "create table if not exists child (id int primary key, parent_id int not null"
        + " references parent (id) deferrable initially deferred)";
    try (TestStore store = TestStore.open(dir, "parents", "children");
        WriteOptions options = new WriteOptions()) {
      ColumnFamilyHandle parents = store.family("parents");
      ColumnFamilyHandle children = store.family("children");
      TreeMapping childMapping = TreeMapping.builder(children)
          .createCommands(createParent)
          .createCommands(createChild)
          .insert("insert into child (id, parent_id) values ($1, $2)"
                  + " on conflict (id) do update set parent_id = excluded.parent_id",
              (k, v) -> Params.of(int32(k), int32(v)))
          .remove("delete from child where id = $1", k -> Params.of(int32(k)))
          .build();
      TreeMapping parentMapping = TreeMapping.builder(parents)
          .createCommands(createParent)
          .insert("insert into parent (id, name) values ($1, $2) on conflict (id) do update set name = excluded.name",
              (k, v) -> Params.of(int32(k), new String(v, StandardCharsets.UTF_8)))
          .remove("delete from parent where id = $1", k -> Params.of(int32(k)))
          .build();
      Replication replication = Replication.builder().postgres(url).source(store.db).name("fk")
          .tree(childMapping).tree(parentMapping).build();

      try (RunningReplication running = replication.start()) {
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertThat(TestPostgres.query(url, "select condeferrable, condeferred from pg_constraint"
            + " where conrelid = 'child'::regclass and contype = 'f'")).containsExactly(List.of(true, true));

        // Children before their parent in each batch.
        for (int p = 0; p < 50; p++) {
          try (WriteBatch batch = new WriteBatch()) {
            for (int c = 0; c < 4; c++) {
              batch.put(children, int32(p * 10 + c), int32(p));
            }
            batch.put(parents, int32(p), utf8("parent " + p));
            store.db.write(options, batch);
          }
        }
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertFamilyTables(url, store);
        assertThat(TestPostgres.query(url, "select count(*) from child")).containsExactly(List.of(200L));

        // Parent deleted before its children in each batch; another parent moves its children.
        for (int p = 0; p < 50; p += 2) {
          try (WriteBatch batch = new WriteBatch()) {
            batch.delete(parents, int32(p));
            for (int c = 0; c < 4; c++) {
              if (c % 2 == 0) {
                batch.delete(children, int32(p * 10 + c));
              } else {
                batch.put(children, int32(p * 10 + c), int32(p + 1)); // re-parented
              }
            }
            store.db.write(options, batch);
          }
        }
        // A new parent that arrives after a child pointing to it, then both go, in one batch.
        try (WriteBatch batch = new WriteBatch()) {
          batch.put(children, int32(9999), int32(999));
          batch.put(parents, int32(999), utf8("late"));
          batch.delete(parents, int32(999));
          batch.delete(children, int32(9999));
          batch.put(children, int32(9998), int32(998));
          batch.put(parents, int32(998), utf8("later"));
          store.db.write(options, batch);
        }
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertFamilyTables(url, store);
        assertThat(running.status().state()).isEqualTo(ReplicationState.STREAMING);
      }

      // The constraint really is enforced: an orphan written directly is refused at commit.
      assertThatThrownBy(() -> TestPostgres.execute(url, "insert into child values (-1, -1)"))
          .hasMessageContaining("foreign key");
    }
  }

  private static void assertFamilyTables(String url, TestStore store) {
    List<List<Object>> expectedParents = new ArrayList<>();
    for (byte[][] entry : store.entries("parents", new byte[0])) {
      expectedParents.add(List.of(int32(entry[0]), new String(entry[1], StandardCharsets.UTF_8)));
    }
    List<List<Object>> expectedChildren = new ArrayList<>();
    for (byte[][] entry : store.entries("children", new byte[0])) {
      expectedChildren.add(List.of(int32(entry[0]), int32(entry[1])));
    }
    expectedParents.sort((x, y) -> Integer.compare((Integer) x.get(0), (Integer) y.get(0)));
    expectedChildren.sort((x, y) -> Integer.compare((Integer) x.get(0), (Integer) y.get(0)));
    assertThat(TestPostgres.query(url, "select id, name from parent order by id"))
        .containsExactlyElementsOf(expectedParents);
    assertThat(TestPostgres.query(url, "select id, parent_id from child order by id"))
        .containsExactlyElementsOf(expectedChildren);
  }

  // ------------------------------------------------------------------ helpers

  /** A mapping that stores keys and values as they are, in a (k bytea, v bytea) table. */
  static TreeMapping bytesMapping(ColumnFamilyHandle cf, String table, byte[] prefix, String name) {
    TreeMapping.Builder builder = TreeMapping.builder(cf).prefix(prefix)
        .createCommands("create table if not exists " + table + " (k bytea primary key, v bytea not null)")
        .insert("insert into " + table + " (k, v) values ($1, $2) on conflict (k) do update set v = excluded.v",
            (k, v) -> Params.of(k, v))
        .remove("delete from " + table + " where k = $1", k -> Params.of(k));
    if (name != null) {
      builder.name(name);
    }
    return builder.build();
  }

  /** The table's rows as "keyhex=valuehex", sorted. */
  static List<String> table(String url, String table) {
    List<String> rows = new ArrayList<>();
    for (List<Object> row : TestPostgres.query(url, "select k, v from " + table)) {
      rows.add(row((byte[]) row.get(0), (byte[]) row.get(1)));
    }
    return sorted(rows);
  }

  /** The store's entries under the prefix as "keyhex=valuehex", sorted. */
  static List<String> store(TestStore store, String family, byte[] prefix) {
    List<String> rows = new ArrayList<>();
    for (byte[][] entry : store.entries(family, prefix)) {
      rows.add(row(entry[0], entry[1]));
    }
    return sorted(rows);
  }

  static String row(byte[] key, byte[] value) {
    return HEX.formatHex(key) + "=" + HEX.formatHex(value);
  }

  static List<String> sorted(List<String> rows) {
    List<String> copy = new ArrayList<>(rows);
    copy.sort(null);
    return copy;
  }

  private static Map<String, String> xmins(String url, String table) {
    Map<String, String> xmins = new HashMap<>();
    for (List<Object> row : TestPostgres.query(url, "select encode(k, 'hex'), xmin::text from " + table)) {
      xmins.put((String) row.get(0), (String) row.get(1));
    }
    return xmins;
  }

  private static long appliedSequence(String url, String name) {
    List<List<Object>> rows = TestPostgres.query(url,
        "select applied_sequence from kv2pg.replication where name = '" + name + "'");
    assertThat(rows).as("checkpoint row of %s", name).hasSize(1);
    return (Long) rows.get(0).get(0);
  }

  /** Big-endian with the sign bit flipped, so that byte order is numeric order. */
  static byte[] key(int i) {
    return ByteBuffer.allocate(4).putInt(i ^ Integer.MIN_VALUE).array();
  }

  static byte[] value(int i, int version) {
    return utf8("value " + i + " v" + version);
  }

  static byte[] smallValue(int i) {
    return ByteBuffer.allocate(4).putInt(i * 31).array();
  }

  static byte[] int32(int value) {
    return ByteBuffer.allocate(4).putInt(value).array();
  }

  static int int32(byte[] bytes) {
    return ByteBuffer.wrap(bytes).getInt();
  }

  static byte[] utf8(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }
}
