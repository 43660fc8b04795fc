package io.kv2pg.bench;

import io.kv2pg.RunningReplication;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import org.rocksdb.RocksIterator;

/**
 * copy-narrow, copy-wide: the initial copy of a store that holds {@link Scale#copyRows()}
 * entries into an empty table, by every system, from the same store.
 */
final class CopyScenario {
  private CopyScenario() {}

  static void run(Context ctx, Rows.Kind kind) throws Exception {
    String scenario = kind == Rows.Kind.NARROW ? "copy-narrow" : "copy-wide";
    String prefix = scenario.replace('-', '_');
    int rows = ctx.scale.copyRows();
    Pg pg = ctx.pg;
    ctx.log("%s: loading %,d %s entries into RocksDB", scenario, rows, kind.name().toLowerCase());
    Store.delete(ctx.workDir.resolve(scenario));
    try (Store store = new Store(ctx.workDir.resolve(scenario))) {
      store.load(kind, rows);
      Checksum expected = new Checksum(kind);
      for (long id = 0; id < rows; id++) {
        expected.addModel(id, 0);
      }

      // raw-copy: the rows are encoded before the clock starts.
      String table = prefix + "_raw";
      List<byte[]> chunks = RawCopy.encode(kind, 0, rows);
      pg.execute(kind.createSql(table));
      pg.settle();
      Context.Stopwatch watch = ctx.stopwatch();
      Context.Span span;
      try (Connection connection = pg.connect()) {
        RawCopy.copy(connection, kind, table, chunks);
        span = watch.stop(); // before the backend exits, so that its CPU time is counted
      }
      chunks = null;
      ctx.report(scenario, "raw-copy", rows, span, "rows/s", ctx.check(kind, table, expected, scenario + " raw-copy"),
          "one COPY of pre-encoded rows");
      pg.dropTable(table);

      // kv2pg: from start() to caught up, DDL included.
      table = prefix + "_kv2pg";
      pg.settle();
      watch = ctx.stopwatch();
      RunningReplication running = ctx.startKv2pg(store, kind, table, scenario);
      try {
        Context.awaitCaughtUp(running, Duration.ofMinutes(30));
        span = watch.stop();
      } finally {
        running.close();
      }
      ctx.report(scenario, "kv2pg", rows, span, "rows/s", ctx.check(kind, table, expected, scenario + " kv2pg"),
          "start() to caught up, table created by kv2pg");
      pg.dropTable(table);

      // best-upsert: staged COPY + INSERT … ON CONFLICT in chunks of ready rows.
      table = prefix + "_best";
      List<BestUpsert.Chunk> ready = BestUpsert.prepareCopy(kind, 0, rows);
      pg.execute(kind.createSql(table));
      pg.settle();
      watch = ctx.stopwatch();
      try (Connection connection = pg.connect()) {
        BestUpsert.apply(connection, kind, table, ready);
        span = watch.stop();
      }
      ready = null;
      ctx.report(scenario, "best-upsert", rows, span, "rows/s",
          ctx.check(kind, table, expected, scenario + " best-upsert"), BestUpsert.CHUNK + "-row chunks");
      pg.dropTable(table);

      // crate-style: the crate's dump pushes every entry through its subscriber path.
      table = prefix + "_crate";
      pg.execute(kind.createSql(table));
      pg.settle();
      try (CrateStyle crate = new CrateStyle(pg, kind, table, null)) {
        watch = ctx.stopwatch();
        try (RocksIterator it = store.db.newIterator(store.family)) {
          for (it.seekToFirst(); it.isValid(); it.next()) {
            crate.publish(new CrateStyle.Event(it.key(), it.value(), 0, -1));
          }
        }
        crate.awaitApplied(rows, Duration.ofMinutes(30).toNanos());
        span = watch.stop();
      }
      ctx.report(scenario, "crate-style", rows, span, "rows/s",
          ctx.check(kind, table, expected, scenario + " crate-style"), "batches of " + CrateStyle.BATCH);
      pg.dropTable(table);

      // naive-jdbc: one autocommitted upsert per entry, on the first entries only.
      table = prefix + "_naive";
      int naiveRows = Math.min(rows, ctx.scale.copyNaiveRows());
      Checksum naiveExpected = new Checksum(kind);
      for (long id = 0; id < naiveRows; id++) {
        naiveExpected.addModel(id, 0);
      }
      pg.execute(kind.createSql(table));
      pg.settle();
      try (NaiveJdbc naive = new NaiveJdbc(pg, kind, table)) {
        watch = ctx.stopwatch();
        int done = 0;
        try (RocksIterator it = store.db.newIterator(store.family)) {
          for (it.seekToFirst(); it.isValid() && done < naiveRows; it.next(), done++) {
            naive.upsert(it.key(), it.value());
          }
        }
        span = watch.stop();
      }
      ctx.report(scenario, "naive-jdbc", naiveRows, span, "rows/s",
          ctx.check(kind, table, naiveExpected, scenario + " naive-jdbc"), "first " + naiveRows + " entries only");
      pg.dropTable(table);
    } finally {
      Store.delete(ctx.workDir.resolve(scenario));
    }
  }
}
