package io.kv2pg;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The process that {@link CrashRecoveryTest} kills: it opens the store, starts the replication and
 * writes deterministic write batches until it is killed.
 *
 * <p>The write history is a pure function of the seed: batch {@code n} (see {@link #batch}) puts and
 * deletes a few keys of tree {@value #DATA} and puts key {@code b<n>} into tree {@value #BATCHES},
 * so every batch leaves a permanent row behind and a skipped batch shows as a missing row. Every
 * put carries a version that grows strictly over the whole history ({@code n * 1000 + op index}),
 * so the test's trigger can refuse any row written twice. A restarted child resumes after the last
 * batch the store holds, so the history stays the same whatever the kill points were.
 *
 * <p>Arguments: store directory, JDBC URL, seed. Prints {@value #STREAMING} once the replication
 * has committed something written by this process. Exits by itself only on trouble: code 3 when
 * the replication failed, 4 after {@value #MAX_RUN_SECONDS} s (an orphan whose test died).
 */
public final class CrashChild {
  static final String REPLICATION = "crash";
  static final String DATA = "data";
  static final String BATCHES = "batches";
  static final String STREAMING = "STREAMING";
  static final int KEYS = 100;
  static final int INITIAL_KEYS = 50;
  static final int MAX_OPS = 6;
  private static final long MAX_RUN_SECONDS = 120;
  /** Slows writing down when Postgres is this many sequence numbers behind. */
  private static final long MAX_LAG = 2_000;

  private CrashChild() {}

  /** One record of a write batch; a {@code null} payload is a delete. */
  record Op(String tree, String key, long version, String payload) {
    boolean isDelete() {
      return payload == null;
    }
  }

  /** A row of either table: the decoded value of an entry. */
  record Row(long version, String payload) {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    String url = args[1];
    long seed = Long.parseLong(args[2]);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(MAX_RUN_SECONDS);
    try (TestStore store = TestStore.open(dir, DATA, BATCHES)) {
      long n = lastBatch(store);
      long startSequence = store.db.getLatestSequenceNumber();
      RunningReplication running = replication(store, url).start();
      boolean announced = false;
      try (WriteOptions options = new WriteOptions()) {
        while (true) {
          n++;
          write(store, options, batch(seed, n));
          ReplicationStatus status = running.status();
          if (status.state() == ReplicationState.FAILED) {
            System.out.println("FAILED at batch " + n + ": " + status.failure().map(Throwable::toString).orElse("?"));
            System.out.flush();
            System.exit(3);
          }
          if (!announced && status.state() == ReplicationState.STREAMING
              && status.appliedSequence() > startSequence) {
            System.out.println(STREAMING);
            System.out.flush();
            announced = true;
          }
          if (System.nanoTime() > deadline) {
            System.out.println("TIMEOUT: nobody killed this process");
            System.out.flush();
            System.exit(4);
          }
          // About a batch a millisecond keeps Postgres close behind: groups of a few batches, so
          // that kills land in every phase of applying one (see CrashRecoveryTest).
          LockSupport.parkNanos(status.sequenceLag() > MAX_LAG ? 5_000_000 : 1_000_000);
        }
      }
    }
  }

  /** The replication that the child and the test run: both trees, one table each. */
  static Replication replication(TestStore store, String url) {
    return Replication.builder()
        .postgres(url)
        .source(store.db)
        .name(REPLICATION)
        .tree(mapping(store.family(DATA), "kv"))
        .tree(mapping(store.family(BATCHES), "batches"))
        .build();
  }

  private static TreeMapping mapping(ColumnFamilyHandle tree, String table) {
    return TreeMapping.builder(tree)
        .createCommands("create table if not exists " + table
            + " (key text primary key, version bigint not null, payload text not null)")
        .insert("insert into " + table + " (key, version, payload) values ($1, $2, $3)"
                + " on conflict (key) do update set version = excluded.version, payload = excluded.payload",
            (key, value) -> Params.of(text(key), version(value), payload(value)))
        .remove("delete from " + table + " where key = $1", key -> Params.of(text(key)))
        .build();
  }

  /**
   * Returns batch {@code n} of the history. Batch 0 holds the first {@value #INITIAL_KEYS} data
   * keys; batch {@code n > 0} holds 1 to {@value #MAX_OPS} puts or deletes of random data keys (a
   * key may occur twice). Each batch ends with the put of its own key in {@value #BATCHES}.
   */
  static List<Op> batch(long seed, long n) {
    List<Op> ops = new ArrayList<>();
    if (n == 0) {
      for (int i = 0; i < INITIAL_KEYS; i++) {
        ops.add(new Op(DATA, dataKey(i), i, "0:" + i));
      }
    } else {
      Random random = new Random(seed ^ (n * 0x9E3779B97F4A7C15L));
      int count = 1 + random.nextInt(MAX_OPS);
      for (int i = 0; i < count; i++) {
        String key = dataKey(random.nextInt(KEYS));
        boolean delete = random.nextInt(4) == 0;
        ops.add(new Op(DATA, key, n * 1000 + i,
            delete ? null : n + ":" + i + ":" + Long.toHexString(random.nextLong())));
      }
    }
    ops.add(new Op(BATCHES, batchKey(n), n * 1000 + 999, "batch " + n + " of " + (ops.size() + 1)));
    return ops;
  }

  static void write(TestStore store, WriteOptions options, List<Op> ops) throws RocksDBException {
    try (WriteBatch batch = new WriteBatch()) {
      for (Op op : ops) {
        byte[] key = op.key().getBytes(StandardCharsets.UTF_8);
        if (op.isDelete()) {
          batch.delete(store.family(op.tree()), key);
        } else {
          batch.put(store.family(op.tree()), key, value(op.version(), op.payload()));
        }
      }
      store.db.write(options, batch);
    }
  }

  /** Returns the number of the last batch the store holds, or -1 if none. */
  static long lastBatch(TestStore store) {
    try (RocksIterator it = store.db.newIterator(store.family(BATCHES))) {
      it.seekToLast();
      return it.isValid() ? batchNumber(text(it.key())) : -1;
    }
  }

  static String dataKey(int i) {
    return String.format("k%03d", i);
  }

  static String batchKey(long n) {
    return String.format("b%010d", n);
  }

  static long batchNumber(String batchKey) {
    return Long.parseLong(batchKey.substring(1));
  }

  static byte[] value(long version, String payload) {
    byte[] text = payload.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(8 + text.length).putLong(version).put(text).array();
  }

  static long version(byte[] value) {
    return ByteBuffer.wrap(value).getLong();
  }

  static String payload(byte[] value) {
    return new String(value, 8, value.length - 8, StandardCharsets.UTF_8);
  }

  static Row row(byte[] value) {
    return new Row(version(value), payload(value));
  }

  static String text(byte[] bytes) {
    return new String(bytes, StandardCharsets.UTF_8);
  }
}
