package io.kv2pg.bench;

import io.kv2pg.RunningReplication;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.distribution.DistributionStatisticConfig;
import io.micrometer.core.instrument.distribution.HistogramSnapshot;
import io.micrometer.core.instrument.distribution.ValueAtPercentile;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * lag-1k, lag-5k, lag-20k: one application thread writes at a fixed rate (open loop, {@link
 * Ops#MIX}); for each write, the time from its scheduled moment to its row being committed in
 * Postgres. A RocksDB write returns microseconds after its scheduled moment, so this is the time
 * from the write returning, except for a system that makes the writer late (naive-jdbc's
 * synchronous upsert): its backlog then shows as lag instead of being hidden. The first
 * {@link Scale#lagWarmupSeconds()} are not counted.
 *
 * <p>kv2pg: a poller thread reads {@code status().appliedSequence()} every {@link #POLL_NANOS} (about
 * 0.25 ms with the kernel's timer slack, so a lag reads at most that much high) and matches it
 * against each write's sequence number ({@code getLatestSequenceNumber()}
 * right after the write). crate-style: the consumer notes when the statement that carries each
 * write returned. naive-jdbc: when the upsert returned.
 *
 * <p>kv2pg's detail also gives the distribution of its transactions' durations (its {@code
 * kv2pg.commit.duration} timer, from the first statement to the commit's return): a write waits
 * for the transaction in flight when it arrives and then for its own, so the lag's tail follows
 * the commits'.
 */
final class LagScenario {
  private static final Rows.Kind KIND = Rows.Kind.NARROW;
  /**
   * How long the poller waits between reads. Polling every 20 µs, as at first, cost 1.4–1.6 CPU
   * seconds in a 12.5 s run (a {@code status()} is a JNI call and a record): a tenth of the two
   * cores that kv2pg and Postgres share, which the lag then showed; crate-style's measurement costs
   * nothing.
   */
  private static final long POLL_NANOS = 200_000;

  private LagScenario() {}

  /** The application side of one run: where each write goes. */
  @FunctionalInterface
  private interface Writer {
    void write(int index, long id, byte[] valueOrNull, long scheduled) throws Exception;
  }

  static void run(Context ctx, int rate) throws Exception {
    String scenario = "lag-" + (rate / 1000) + "k";
    Pg pg = ctx.pg;
    int base = ctx.scale.lagBase();
    int warmup = (int) Math.round(rate * ctx.scale.lagWarmupSeconds());
    int measuredEnd = warmup + (int) Math.round(rate * ctx.scale.lagSeconds());
    // Unmeasured writes after the measured ones, so that no measured write waits for an end-of-run
    // flush (crate-style's 500 ms idle flush would otherwise dominate its p99).
    int total = measuredEnd + Math.max(300, rate / 2);
    Ops ops = Ops.generate(1, total, base, rate).get(0);
    List<byte[]> baseRows = RawCopy.encode(KIND, 0, base);
    long cap = (long) ((ctx.scale.lagWarmupSeconds() + ctx.scale.lagSeconds()) * 1.5e9) + 1_000_000_000L;
    ctx.log("%s: %,d writes/s for %.1f s (+%.1f s warm-up) over %,d entries", scenario, rate,
        ctx.scale.lagSeconds(), ctx.scale.lagWarmupSeconds(), base);

    // kv2pg
    String table = scenario.replace('-', '_') + "_kv2pg";
    Path dir = ctx.workDir.resolve(scenario + "-kv2pg");
    Store.delete(dir);
    try (Store store = new Store(dir)) {
      store.load(KIND, base);
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      registry.config().meterFilter(WHOLE_RUN);
      RunningReplication running = ctx.startKv2pg(store, KIND, table, scenario, registry);
      try {
        Context.awaitCaughtUp(running, Duration.ofMinutes(10));
        pg.settle();
        long[] sequences = new long[total];
        long[] scheduledAt = new long[total];
        long[] lags = new long[total];
        AtomicInteger published = new AtomicInteger();
        int[] resolvedCount = {0};
        Thread poller = new Thread(() -> {
          int resolved = 0;
          while (true) {
            long applied = running.status().appliedSequence();
            long now = System.nanoTime();
            int available = published.get();
            while (resolved < available && sequences[resolved] <= applied) {
              lags[resolved] = now - scheduledAt[resolved];
              resolved++;
            }
            resolvedCount[0] = resolved;
            if (resolved == total || Thread.currentThread().isInterrupted()) {
              return;
            }
            LockSupport.parkNanos(POLL_NANOS);
          }
        }, "lag-poller");
        poller.setDaemon(true);
        poller.start();
        Generated generated = generate(ctx, ops, rate, 0, (index, id, value, scheduled) -> {
          if (value == null) {
            store.delete(id);
          } else {
            store.put(id, value);
          }
          sequences[index] = store.db.getLatestSequenceNumber();
          scheduledAt[index] = scheduled;
          published.set(index + 1);
        });
        poller.join(120_000);
        if (poller.isAlive()) {
          poller.interrupt();
          poller.join();
          throw new IllegalStateException("kv2pg did not apply the lag run's writes within 120 s: "
              + running.status());
        }
        String check = ctx.check(KIND, table, Ops.expected(KIND, base, List.of(ops), new int[] {generated.issued}),
            scenario + " kv2pg");
        report(ctx, scenario, "kv2pg", rate, lags, warmup, measuredEnd, generated, check, commits(registry));
      } finally {
        running.close();
      }
    } finally {
      Store.delete(dir);
    }
    pg.dropTable(table);

    // crate-style
    table = scenario.replace('-', '_') + "_crate";
    dir = ctx.workDir.resolve(scenario + "-crate");
    try (Store store = Store.inStepWithTable(dir, pg, KIND, base, table, baseRows)) {
      long[] lags = new long[total];
      Generated generated;
      try (CrateStyle crate = new CrateStyle(pg, KIND, table, lags)) {
        generated = generate(ctx, ops, rate, 0, (index, id, value, scheduled) -> {
          if (value == null) {
            store.delete(id);
          } else {
            store.put(id, value);
          }
          crate.publish(new CrateStyle.Event(Rows.key(id), value, scheduled, index));
        });
        crate.awaitApplied(generated.issued, 120_000_000_000L);
      }
      String check = ctx.check(KIND, table, Ops.expected(KIND, base, List.of(ops), new int[] {generated.issued}),
          scenario + " crate-style");
      report(ctx, scenario, "crate-style", rate, lags, warmup, measuredEnd, generated, check, null);
    } finally {
      Store.delete(dir);
    }
    pg.dropTable(table);

    // naive-jdbc
    table = scenario.replace('-', '_') + "_naive";
    dir = ctx.workDir.resolve(scenario + "-naive");
    try (Store store = Store.inStepWithTable(dir, pg, KIND, base, table, baseRows)) {
      long[] lags = new long[total];
      Generated generated;
      try (NaiveJdbc naive = new NaiveJdbc(pg, KIND, table)) {
        generated = generate(ctx, ops, rate, cap, (index, id, value, scheduled) -> {
          if (value == null) {
            store.delete(id);
            naive.delete(id);
          } else {
            store.put(id, value);
            naive.upsert(Rows.key(id), value);
          }
          lags[index] = System.nanoTime() - scheduled;
        });
      }
      String check = ctx.check(KIND, table, Ops.expected(KIND, base, List.of(ops), new int[] {generated.issued}),
          scenario + " naive-jdbc");
      report(ctx, scenario, "naive-jdbc", rate, lags, warmup, measuredEnd, generated, check, null);
    } finally {
      Store.delete(dir);
    }
    pg.dropTable(table);
  }

  /**
   * Keeps a timer's percentiles over the whole run instead of Micrometer's two-minute window, and
   * adds the 99.9th: the commits' rare slow flushes are what the lag's p99 is made of.
   */
  private static final MeterFilter WHOLE_RUN = new MeterFilter() {
    @Override
    public DistributionStatisticConfig configure(Meter.Id id, DistributionStatisticConfig config) {
      return DistributionStatisticConfig.builder().percentiles(0.5, 0.99, 0.999).expiry(Duration.ofHours(1))
          .bufferLength(1).build().merge(config);
    }
  };

  private static final java.text.DecimalFormat PERCENT =
      new java.text.DecimalFormat("0.#", java.text.DecimalFormatSymbols.getInstance(Locale.ROOT));

  /** The transactions' durations: count, p50, p99, p99.9 and max in milliseconds. */
  private static String commits(SimpleMeterRegistry registry) {
    Timer timer = registry.find("kv2pg.commit.duration").timer();
    if (timer == null) {
      return "no commit timer";
    }
    HistogramSnapshot snapshot = timer.takeSnapshot();
    StringBuilder text = new StringBuilder(String.format(Locale.ROOT, "%,d transactions", snapshot.count()));
    for (ValueAtPercentile p : snapshot.percentileValues()) {
      text.append(String.format(Locale.ROOT, ", p%s %.2f ms", PERCENT.format(p.percentile() * 100),
          p.value(TimeUnit.MILLISECONDS)));
    }
    return text.append(String.format(Locale.ROOT, ", max %.1f ms (the initial copy's included)",
        snapshot.max(TimeUnit.MILLISECONDS))).toString();
  }

  /** How the generator did: writes issued, over how long, and the CPU used meanwhile. */
  private record Generated(int issued, double seconds, Context.Span span) {}

  /**
   * Issues the writes at their scheduled moments (catching up without waiting when late), and
   * stops early, after {@code capNanos} if positive, for a system that cannot keep the rate.
   */
  private static Generated generate(Context ctx, Ops ops, int rate, long capNanos, Writer writer)
      throws Exception {
    Context.Stopwatch watch = ctx.stopwatch();
    long start = System.nanoTime() + 2_000_000;
    int issued = 0;
    for (int i = 0; i < ops.size(); i++) {
      long scheduled = start + (long) (i * 1e9 / rate);
      long now;
      while ((now = System.nanoTime()) < scheduled) {
        LockSupport.parkNanos(scheduled - now);
      }
      if (capNanos > 0 && now - start > capNanos) {
        break;
      }
      long id = ops.id[i];
      writer.write(i, id, ops.isDelete(i) ? null : KIND.value(id, ops.version[i]), scheduled);
      issued++;
    }
    return new Generated(issued, (System.nanoTime() - start) / 1e9, watch.stop());
  }

  private static void report(Context ctx, String scenario, String system, int rate, long[] lags, int warmup,
      int measuredEnd, Generated generated, String check, String commits) {
    // A system that could not keep the rate was stopped early, possibly within the warm-up: its
    // lag is then measured over the second half of what it issued, and the detail says so.
    boolean shortRun = generated.issued <= warmup;
    int from = shortRun ? generated.issued / 2 : warmup;
    if (generated.issued - from < 1) {
      ctx.results.problem(scenario + " " + system + ": no write was issued; no lag measured");
      return;
    }
    long[] measured = Arrays.copyOfRange(lags, from, Math.min(measuredEnd, generated.issued));
    Arrays.sort(measured);
    double p50 = percentile(measured, 0.50);
    double p99 = percentile(measured, 0.99);
    double max = measured[measured.length - 1] / 1e6;
    double achieved = generated.issued / generated.seconds;
    String detail = String.format(Locale.ROOT, "%,d writes measured; achieved %,.0f writes/s of %,d%s", measured.length,
        achieved, rate, generated.issued < lags.length ? " (could not keep the rate; stopped early"
            + (shortRun ? ", within the warm-up: the second half of its writes measured)" : ")") : "")
        + (commits == null ? "" : "; " + commits);
    ctx.results.add(scenario, system, round(p50), "ms-p50", detail);
    ctx.results.add(scenario, system, round(p99), "ms-p99", detail);
    ctx.results.add(scenario, system, round(max), "ms-max", detail);
    Context.Span span = generated.span();
    ctx.results.cost(new Results.Cost(scenario, system, span.seconds(), span.jvmCpu(), span.pgCpu(),
        generated.issued, check, span.pgRoles(), span.jvmRoles(), span.transactions()));
  }

  private static double percentile(long[] sorted, double q) {
    int index = (int) Math.ceil(q * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, index))] / 1e6;
  }

  private static double round(double ms) {
    return Math.round(ms * 1000) / 1000.0;
  }
}
