package io.kv2pg;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.rocksdb.FlushOptions;
import org.rocksdb.WriteOptions;

/**
 * The primary that {@link FollowCrashTest} kills: a plain RocksDB application with no kv2pg in it.
 * It opens the store and writes deterministic write batches across three trees until it is killed,
 * flushing now and then (new WAL files, new table files).
 *
 * <p>Batch {@code n} puts or deletes 1 to 6 keys of trees {@value #DATA} and {@value #MORE}, each put
 * with version {@code n * 1000 + op index}, and puts key {@code b<n>} into {@value CrashChild#BATCHES},
 * so a skipped batch shows as a missing row and a repeated one as a refused version. A restarted
 * child resumes after the last batch the store holds.
 *
 * <p>Arguments: store directory, seed. Prints {@value #WRITING} after its first batch; exits by
 * itself (code 4) after {@value #MAX_RUN_SECONDS} s.
 */
public final class FollowPrimaryChild {
  static final String DATA = "data";
  static final String MORE = "more";
  static final String WRITING = "WRITING";
  static final List<String> TREES = List.of(DATA, MORE, CrashChild.BATCHES);
  private static final long MAX_RUN_SECONDS = 180;

  private FollowPrimaryChild() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    long seed = Long.parseLong(args[1]);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(MAX_RUN_SECONDS);
    try (TestStore store = TestStore.open(dir, TREES.toArray(String[]::new));
        WriteOptions options = new WriteOptions();
        FlushOptions flush = new FlushOptions().setWaitForFlush(false)) {
      long n = CrashChild.lastBatch(store);
      boolean announced = false;
      while (System.nanoTime() < deadline) {
        n++;
        CrashChild.write(store, options, batch(seed, n));
        if (n % 1_500 == 0) {
          store.db.flush(flush, store.family(n % 3_000 == 0 ? DATA : MORE));
        }
        if (!announced) {
          System.out.println(WRITING);
          System.out.flush();
          announced = true;
        }
        LockSupport.parkNanos(500_000);
      }
      System.out.println("TIMEOUT: nobody killed this process");
      System.out.flush();
      System.exit(4);
    }
  }

  /** Returns batch {@code n} of the history. */
  static List<CrashChild.Op> batch(long seed, long n) {
    List<CrashChild.Op> ops = new ArrayList<>();
    Random random = new Random(seed ^ (n * 0x9E3779B97F4A7C15L));
    int count = 1 + random.nextInt(CrashChild.MAX_OPS);
    for (int i = 0; i < count; i++) {
      String tree = random.nextBoolean() ? DATA : MORE;
      String key = CrashChild.dataKey(random.nextInt(CrashChild.KEYS));
      boolean delete = random.nextInt(4) == 0;
      ops.add(new CrashChild.Op(tree, key, n * 1000 + i,
          delete ? null : n + ":" + i + ":" + Long.toHexString(random.nextLong())));
    }
    ops.add(new CrashChild.Op(CrashChild.BATCHES, CrashChild.batchKey(n), n * 1000 + 999, "batch " + n));
    return ops;
  }
}
