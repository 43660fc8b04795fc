package io.kv2pg.bench;

import io.kv2pg.Replication;
import io.kv2pg.RunningReplication;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * fan-in-4: four stores, each with a replication of its own and its own key range ({@code
 * TreeMapping.Builder.keyRange}), stream into one declared table at once. The same change mix,
 * base and number of changes as {@code stream}, split evenly over the four stores, written by the
 * same {@value Context#WRITER_THREADS} application threads (each writes to every other store in
 * turn); the figure is every store's writes divided by the time from the first write to the last
 * one being committed by its replication. The table must equal the union of the four stores.
 */
final class FanInScenario {
  static final String SCENARIO = "fan-in-4";
  private static final Rows.Kind KIND = Rows.Kind.NARROW;
  private static final int STORES = 4;
  /** Store {@code s} holds the ids from {@code s * STRIDE}: its key range, as 8 big-endian bytes. */
  private static final long STRIDE = 1L << 32;

  private FanInScenario() {}

  static void run(Context ctx) throws Exception {
    int base = ctx.scale.streamBase() / STORES;
    int changes = ctx.scale.streamChanges() / STORES;
    int threads = Context.WRITER_THREADS;
    List<Ops> streams = new ArrayList<>();
    for (int s = 0; s < STORES; s++) {
      streams.add(Ops.generate(1, changes, base, 42 + s).get(0));
    }
    Checksum expected = expected(base, streams);
    ctx.log("fan-in-4: %,d writes by %d threads into %d stores of %,d entries each, one replication and key"
        + " range each, one table (%s)", changes * STORES, threads, STORES, base, Ops.MIX);

    String table = "fanin_kv2pg";
    ctx.pg.dropTable(table);
    List<Store> stores = new ArrayList<>();
    List<RunningReplication> running = new ArrayList<>();
    Context.Span span;
    try {
      for (int s = 0; s < STORES; s++) {
        Path dir = ctx.workDir.resolve("fan-in-" + s);
        Store.delete(dir);
        Store store = new Store(dir);
        stores.add(store);
        store.load(KIND, s * STRIDE, base);
      }
      for (int s = 0; s < STORES; s++) {
        Store store = stores.get(s);
        running.add(Replication.builder().postgres(ctx.pg.url).source(store.db)
            .name(ctx.replicationName(SCENARIO))
            .tree(KIND.mapping(store.family, table, Rows.key(s * STRIDE),
                s == STORES - 1 ? null : Rows.key((s + 1) * STRIDE)))
            .build().start());
      }
      for (RunningReplication replication : running) {
        Context.awaitCaughtUp(replication, Duration.ofMinutes(30)); // the four initial copies, at once
      }
      ctx.pg.settle();
      Context.Stopwatch watch = ctx.stopwatch();
      Context.runThreads(threads, t -> {
        List<Integer> mine = new ArrayList<>();
        for (int s = t; s < STORES; s += threads) {
          mine.add(s);
        }
        for (int i = 0; i < changes; i++) {
          for (int s : mine) {
            Ops ops = streams.get(s);
            long id = s * STRIDE + ops.id[i];
            if (ops.isDelete(i)) {
              stores.get(s).delete(id);
            } else {
              stores.get(s).put(id, KIND.value(id, ops.version[i]));
            }
          }
        }
      });
      for (RunningReplication replication : running) {
        Context.awaitCaughtUp(replication, Duration.ofMinutes(30));
      }
      span = watch.stop();
    } finally {
      for (RunningReplication replication : running) {
        replication.close();
      }
      for (Store store : stores) {
        store.close();
        Store.delete(store.dir);
      }
    }
    ctx.report(SCENARIO, "kv2pg", (long) changes * STORES, span, "changes/s",
        ctx.check(KIND, table, expected, "fan-in-4 kv2pg"),
        threads + " writer threads, " + STORES + " stores and replications, one table; " + Ops.MIX);
    ctx.pg.dropTable(table);
  }

  /** The union of the four stores after the base and every op, each store's ids at its offset. */
  private static Checksum expected(int base, List<Ops> streams) {
    Checksum sum = new Checksum(KIND);
    for (int s = 0; s < streams.size(); s++) {
      Ops ops = streams.get(s);
      long maxId = base;
      for (long id : ops.id) {
        maxId = Math.max(maxId, id + 1);
      }
      long[] versions = new long[(int) maxId];
      java.util.Arrays.fill(versions, (int) base, (int) maxId, -1);
      for (int i = 0; i < ops.size(); i++) {
        versions[(int) ops.id[i]] = ops.isDelete(i) ? -1 : ops.version[i];
      }
      for (int id = 0; id < versions.length; id++) {
        if (versions[id] >= 0) {
          sum.addModel(s * STRIDE + id, versions[id]);
        }
      }
    }
    return sum;
  }
}
