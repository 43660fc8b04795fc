package io.kv2pg;

import static io.kv2pg.ErrorHandlingTest.TREE;
import static io.kv2pg.ErrorHandlingTest.WAIT;
import static io.kv2pg.ErrorHandlingTest.checkpoint;
import static io.kv2pg.ErrorHandlingTest.i32;
import static io.kv2pg.ErrorHandlingTest.mapping;
import static io.kv2pg.ErrorHandlingTest.replication;
import static io.kv2pg.ErrorHandlingTest.rows;
import static io.kv2pg.ErrorHandlingTest.startCaughtUp;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * Sequence numbers that the write-ahead log does not hold (here: writes made with {@code
 * disableWAL}) are detected, named, and never skipped.
 */
class WalGapTest {
  @TempDir Path dir;

  /** Writes two puts in one batch without the WAL; returns the batch's first sequence number. */
  private static long writeWithoutWal(TestStore store, ColumnFamilyHandle tree, int firstKey)
      throws RocksDBException {
    long first = store.db.getLatestSequenceNumber() + 1;
    try (WriteBatch batch = new WriteBatch(); WriteOptions options = new WriteOptions().setDisableWAL(true)) {
      batch.put(tree, i32(firstKey), i32(firstKey * 10));
      batch.put(tree, i32(firstKey + 1), i32(firstKey * 10 + 10));
      store.db.write(options, batch);
    }
    assertThat(store.db.getLatestSequenceNumber()).isEqualTo(first + 1);
    return first;
  }

  private static SequenceGapException awaitGap(RunningReplication running) {
    ReplicationException failure = Await.failure(running, WAIT);
    assertThat(failure.kind()).isEqualTo(ReplicationException.Kind.SEQUENCE_GAP);
    assertThat(failure).isInstanceOf(SequenceGapException.class);
    return (SequenceGapException) failure;
  }

  private static void assertNames(SequenceGapException gap, long first, long last) {
    assertThat(gap.firstMissing()).isEqualTo(first);
    assertThat(gap.lastMissing()).isEqualTo(last);
    assertThat(gap.sequence()).hasValue(first);
    assertThat(gap.getMessage()).contains(first + " to " + last, "disableWAL");
  }

  /**
   * Waits for the replication to fail on the two missing sequence numbers from {@code first}, and
   * checks that the table holds exactly {@code rows} and the checkpoint is {@code applied} with the
   * failure recorded.
   */
  private static void assertGapFails(RunningReplication running, String url, long first, long applied,
      List<List<Object>> rows) {
    SequenceGapException gap = awaitGap(running);
    assertNames(gap, first, first + 1);
    assertThat(rows(url)).isEqualTo(rows);
    assertThat(checkpoint(url, "default")).containsExactly(applied, gap.getMessage());
  }

  @Test
  void gapWrittenWhileStoppedFailsTheRestartEveryTime() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, TREE)) {
      ColumnFamilyHandle tree = store.family(TREE);
      startCaughtUp(url, store, tree).close(); // key 1 applied, then stopped
      // Read at the restart from one log iterator, which RocksDB itself stops at the gap with
      // "Gap in sequence numbers": kv2pg must still name the range.
      store.db.put(tree, i32(5), i32(50));
      store.db.put(tree, i32(1), i32(11));
      long applied = store.db.getLatestSequenceNumber();
      long first = writeWithoutWal(store, tree, 2);
      store.db.put(tree, i32(4), i32(40)); // after the gap: must not be applied

      for (int attempt = 0; attempt < 2; attempt++) {
        try (RunningReplication running = replication(url, store, mapping(tree)).start()) {
          assertGapFails(running, url, first, applied, List.of(List.of(1, 11), List.of(5, 50)));
        }
      }
    }
  }

  @Test
  void gapWrittenWhileStreamingFails() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, TREE)) {
      ColumnFamilyHandle tree = store.family(TREE);
      try (RunningReplication running = startCaughtUp(url, store, tree)) {
        long applied = store.db.getLatestSequenceNumber();
        long first = writeWithoutWal(store, tree, 2);
        store.db.put(tree, i32(4), i32(40));

        assertGapFails(running, url, first, applied, List.of(List.of(1, 10)));
      }
    }
  }

  /** The gap comes in the middle of a fast stream, which the reader may still be behind on. */
  @Test
  void gapInTheMiddleOfAFastStreamFails() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, TREE)) {
      ColumnFamilyHandle tree = store.family(TREE);
      try (RunningReplication running = startCaughtUp(url, store, tree)) {
        for (int key = 100; key < 1100; key++) {
          store.db.put(tree, i32(key), i32(key % 1000));
        }
        long applied = store.db.getLatestSequenceNumber();
        List<List<Object>> before = ErrorHandlingTest.storeRows(store);
        long first = writeWithoutWal(store, tree, 2);
        for (int key = 1100; key < 2100; key++) {
          store.db.put(tree, i32(key), i32(key % 1000));
        }

        assertGapFails(running, url, first, applied, before);
      }
    }
  }

  @Test
  void gapAtTheTailOfTheLogFails() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, TREE)) {
      ColumnFamilyHandle tree = store.family(TREE);
      try (RunningReplication running = startCaughtUp(url, store, tree)) {
        long applied = store.db.getLatestSequenceNumber();
        long first = writeWithoutWal(store, tree, 2); // the last write: nothing in the log follows

        assertGapFails(running, url, first, applied, List.of(List.of(1, 10)));
      }
    }
  }
}
