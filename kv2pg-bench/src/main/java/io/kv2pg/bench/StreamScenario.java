package io.kv2pg.bench;

import io.kv2pg.RunningReplication;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;

/**
 * stream: {@value Context#WRITER_THREADS} application threads write as fast as they can (single
 * writes, {@link Ops#MIX}) into a store whose table already holds the base entries; the figure
 * is the writes divided by the time from the first write to the last one being committed in
 * Postgres.
 */
final class StreamScenario {
  private static final String SCENARIO = "stream";
  private static final Rows.Kind KIND = Rows.Kind.NARROW;

  private StreamScenario() {}

  static void run(Context ctx) throws Exception {
    Pg pg = ctx.pg;
    int base = ctx.scale.streamBase();
    int changes = ctx.scale.streamChanges();
    int threads = Context.WRITER_THREADS;
    List<Ops> streams = Ops.generate(threads, changes, base, 42);
    int[] all = Ops.all(streams);
    int[] naiveCounts = new int[threads];
    for (int t = 0; t < threads; t++) {
      naiveCounts[t] = Math.min(all[t], ctx.scale.streamNaiveChanges() / threads);
    }
    int naiveChanges = java.util.Arrays.stream(naiveCounts).sum();
    Checksum expected = Ops.expected(KIND, base, streams, all);
    Checksum naiveExpected = Ops.expected(KIND, base, streams, naiveCounts);
    List<byte[]> baseRows = RawCopy.encode(KIND, 0, base);
    String mix = threads + " writer threads; " + Ops.MIX;
    ctx.log("stream: %,d writes by %d threads over %,d entries (%s)", changes, threads, base, Ops.MIX);

    // best-upsert: the same writes, coalesced and encoded before the clock starts.
    String table = "stream_best";
    pg.execute(KIND.createSql(table));
    try (Connection connection = pg.connect()) {
      RawCopy.copy(connection, KIND, table, baseRows);
    }
    List<BestUpsert.Chunk> ready = BestUpsert.prepare(KIND, streams, all);
    pg.settle();
    Context.Stopwatch watch = ctx.stopwatch();
    Context.Span span;
    try (Connection connection = pg.connect()) {
      BestUpsert.apply(connection, KIND, table, ready);
      span = watch.stop(); // before the backend exits, so that its CPU time is counted
    }
    ready = null;
    ctx.report(SCENARIO, "best-upsert", changes, span, "changes/s",
        ctx.check(KIND, table, expected, "stream best-upsert"), "ready rows, " + BestUpsert.CHUNK + "-change chunks");
    pg.dropTable(table);

    // kv2pg
    table = "stream_kv2pg";
    Path dir = ctx.workDir.resolve("stream-kv2pg");
    Store.delete(dir);
    try (Store store = new Store(dir)) {
      store.load(KIND, base);
      RunningReplication running = ctx.startKv2pg(store, KIND, table, SCENARIO);
      try {
        Context.awaitCaughtUp(running, Duration.ofMinutes(30)); // initial copy of the base
        pg.settle();
        watch = ctx.stopwatch();
        write(store, streams, all, null);
        Context.awaitCaughtUp(running, Duration.ofMinutes(30));
        span = watch.stop();
      } finally {
        running.close();
      }
    } finally {
      Store.delete(dir);
    }
    ctx.report(SCENARIO, "kv2pg", changes, span, "changes/s", ctx.check(KIND, table, expected, "stream kv2pg"), mix);
    pg.dropTable(table);

    // crate-style
    table = "stream_crate";
    dir = ctx.workDir.resolve("stream-crate");
    try (Store store = Store.inStepWithTable(dir, pg, KIND, base, table, baseRows)) {
      try (CrateStyle crate = new CrateStyle(pg, KIND, table, null)) {
        watch = ctx.stopwatch();
        write(store, streams, all, crate);
        crate.awaitApplied(changes, Duration.ofMinutes(30).toNanos());
        span = watch.stop();
      }
    } finally {
      Store.delete(dir);
    }
    ctx.report(SCENARIO, "crate-style", changes, span, "changes/s",
        ctx.check(KIND, table, expected, "stream crate-style"), mix);
    pg.dropTable(table);

    // naive-jdbc: the first writes of each thread only.
    String naiveTable = "stream_naive";
    dir = ctx.workDir.resolve("stream-naive");
    try (Store store = Store.inStepWithTable(dir, pg, KIND, base, naiveTable, baseRows)) {
      List<NaiveJdbc> connections = new java.util.ArrayList<>();
      try {
        for (int t = 0; t < threads; t++) {
          connections.add(new NaiveJdbc(pg, KIND, naiveTable));
        }
        watch = ctx.stopwatch();
        Context.runThreads(threads, t -> {
          Ops ops = streams.get(t);
          NaiveJdbc naive = connections.get(t);
          for (int i = 0; i < naiveCounts[t]; i++) {
            long id = ops.id[i];
            if (ops.isDelete(i)) {
              store.delete(id);
              naive.delete(id);
            } else {
              byte[] value = KIND.value(id, ops.version[i]);
              store.put(id, value);
              naive.upsert(Rows.key(id), value);
            }
          }
        });
        span = watch.stop();
      } finally {
        for (NaiveJdbc naive : connections) {
          naive.close();
        }
      }
    } finally {
      Store.delete(dir);
    }
    ctx.report(SCENARIO, "naive-jdbc", naiveChanges, span, "changes/s",
        ctx.check(KIND, naiveTable, naiveExpected, "stream naive-jdbc"), mix + "; first " + naiveChanges + " writes only");
    pg.dropTable(naiveTable);
  }

  /** The application threads: every op to the store, and to the crate's subscriber if given. */
  private static void write(Store store, List<Ops> streams, int[] counts, CrateStyle crate) throws Exception {
    Context.runThreads(streams.size(), t -> {
      Ops ops = streams.get(t);
      for (int i = 0; i < counts[t]; i++) {
        long id = ops.id[i];
        if (ops.isDelete(i)) {
          store.delete(id);
          if (crate != null) {
            crate.publish(new CrateStyle.Event(Rows.key(id), null, 0, -1));
          }
        } else {
          byte[] value = KIND.value(id, ops.version[i]);
          store.put(id, value);
          if (crate != null) {
            crate.publish(new CrateStyle.Event(Rows.key(id), value, 0, -1));
          }
        }
      }
    });
  }
}
