package io.kv2pg.internal.rocksdb;

import static org.assertj.core.api.Assertions.assertThat;

import io.kv2pg.TestStore;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.TransactionLogIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The tailer builds its log iterator while the log is idle, on the last batch it already
 * returned, so that the first new write is read without scanning the WAL file again, and it
 * returns exactly the new batches, nothing of the old one.
 */
class WalTailerTest {
  @TempDir Path dir;

  /** The store's own log, counting how often an iterator is built. */
  private static final class CountingSource implements WalSource {
    private final PrimaryWalSource source;
    final AtomicInteger builds = new AtomicInteger();

    CountingSource(RocksDB database) {
      this.source = new PrimaryWalSource(database);
    }

    @Override
    public RocksDB database() {
      return source.database();
    }

    @Override
    public void refresh() {}

    @Override
    public long latestSequence() {
      return source.latestSequence();
    }

    @Override
    public TransactionLogIterator updatesSince(long sequence) throws RocksDBException {
      builds.incrementAndGet();
      return source.updatesSince(sequence);
    }

    @Override
    public String describe() {
      return source.describe();
    }
  }

  @Test
  void buildsTheIteratorWhileIdleAndReturnsOnlyTheNewBatches() throws Exception {
    try (TestStore store = TestStore.open(dir.resolve("store"));
        WriteOptions options = new WriteOptions();
        WalBatchDecoder decoder = new WalBatchDecoder()) {
      for (long id = 0; id < 5_000; id++) {
        store.db.put(options, key(id), key(id));
      }
      try (WriteBatch last = new WriteBatch()) { // The last batch read holds three records.
        for (long id = 5_000; id < 5_003; id++) {
          last.put(key(id), key(id));
        }
        store.db.write(options, last);
      }
      long caughtUp = store.db.getLatestSequenceNumber();
      CountingSource source = new CountingSource(store.db);
      try (WalTailer tailer = new WalTailer(source, decoder, caughtUp + 1)) {
        assertThat(tailer.poll()).as("nothing new").isNull();
        assertThat(source.builds.get()).as("iterators built while idle").isEqualTo(1);
        assertThat(tailer.poll()).as("still nothing new").isNull();

        for (long id = 10_000; id < 10_005; id++) {
          store.db.put(options, key(id), key(id));
        }
        List<WalBatch> batches = new ArrayList<>();
        for (int polls = 0; polls < 1_000 && batches.size() < 5; polls++) {
          WalBatch batch = tailer.poll();
          if (batch != null) {
            batches.add(batch);
          }
        }
        assertThat(batches).extracting(WalBatch::sequence)
            .containsExactly(caughtUp + 1, caughtUp + 2, caughtUp + 3, caughtUp + 4, caughtUp + 5);
        assertThat(batches).allSatisfy(batch -> assertThat(batch.records()).hasSize(1));
        assertThat(batches).extracting(batch -> ByteBuffer.wrap(batch.records().get(0).key()).getLong())
            .containsExactly(10_000L, 10_001L, 10_002L, 10_003L, 10_004L);
        assertThat(source.builds.get()).as("iterators built in all").isEqualTo(1);
        assertThat(tailer.nextSequence()).isEqualTo(caughtUp + 6);
      }
    }
  }

  private static byte[] key(long id) {
    return ByteBuffer.allocate(8).putLong(id).array();
  }
}
