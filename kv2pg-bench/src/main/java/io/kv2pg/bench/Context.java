package io.kv2pg.bench;

import io.kv2pg.Replication;
import io.kv2pg.RunningReplication;
import java.io.PrintStream;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;

/** What every scenario needs: the server, the scale, where to put stores, and the results. */
final class Context {
  /** Work that may throw. */
  @FunctionalInterface
  interface Work {
    void run() throws Exception;
  }

  /** Work of one application thread. */
  @FunctionalInterface
  interface ThreadWork {
    void run(int thread) throws Exception;
  }

  /** A measured stretch of time, with the CPU seconds of this JVM and of the server (by role). */
  record Span(double seconds, double jvmCpu, double pgCpu, java.util.Map<String, Double> pgRoles,
      java.util.Map<String, Double> jvmRoles, long transactions) {}

  /** A started stopwatch. */
  final class Stopwatch {
    private final long xid = transactionId();
    private final long appCpu = APPLICATION_CPU.get();
    private final long start = System.nanoTime();
    private final CpuMeter.Sample cpu = meter.sample();

    Span stop() {
      long end = System.nanoTime();
      CpuMeter.Sample now = meter.sample();
      java.util.Map<String, Double> jvmRoles = CpuMeter.jvmByRole(cpu, now);
      double app = (APPLICATION_CPU.get() - appCpu) / 1e9;
      if (app > 0) { // application threads have exited: their time is known from themselves
        jvmRoles.put("application writers", app);
        jvmRoles.computeIfPresent(CpuMeter.EXITED_THREADS, (k, v) -> v - app > 0.005 ? v - app : null);
      }
      return new Span((end - start) / 1e9, now.jvm() - cpu.jvm(), now.server() - cpu.server(),
          CpuMeter.byRole(cpu, now), jvmRoles, transactionId() - xid - 1);
    }
  }

  /** CPU nanoseconds used by application writer threads that have ended. */
  private static final java.util.concurrent.atomic.AtomicLong APPLICATION_CPU =
      new java.util.concurrent.atomic.AtomicLong();

  /** Returns a new transaction id: the difference of two counts the write transactions between. */
  private long transactionId() {
    try {
      return ((Number) pg.row("select txid_current()").get(0)).longValue();
    } catch (SQLException e) {
      return 0;
    }
  }

  /** Application threads writing while the replication runs. */
  static final int WRITER_THREADS = 2;

  final Pg pg;
  final Scale scale;
  final Results results;
  final Path workDir;
  final PrintStream out;
  private final CpuMeter meter;
  private final AtomicInteger names = new AtomicInteger();

  Context(Pg pg, Scale scale, Results results, Path workDir, PrintStream out) {
    this.pg = pg;
    this.scale = scale;
    this.results = results;
    this.workDir = workDir;
    this.out = out;
    this.meter = CpuMeter.of(pg);
  }

  Stopwatch stopwatch() {
    return new Stopwatch();
  }

  void log(String format, Object... args) {
    out.println("# " + String.format(Locale.ROOT, format, args));
    out.flush();
  }

  /** A replication name not used before in this run. */
  String replicationName(String scenario) {
    return "bench-" + scenario + "-" + ProcessHandle.current().pid() + "-" + names.incrementAndGet();
  }

  /** Starts kv2pg on the store's {@code data} family, declared as {@code table}. */
  RunningReplication startKv2pg(Store store, Rows.Kind kind, String table, String scenario) {
    return kv2pg(store, kind, table, scenario).build().start();
  }

  /** Starts kv2pg as {@link #startKv2pg} does, with its meters in {@code registry}. */
  RunningReplication startKv2pg(Store store, Rows.Kind kind, String table, String scenario,
      io.micrometer.core.instrument.MeterRegistry registry) {
    return kv2pg(store, kind, table, scenario).meterRegistry(registry).build().start();
  }

  private Replication.Builder kv2pg(Store store, Rows.Kind kind, String table, String scenario) {
    return Replication.builder().postgres(pg.url).source(store.db).name(replicationName(scenario))
        .tree(kind.mapping(store.family, table));
  }

  static void awaitCaughtUp(RunningReplication running, Duration timeout) throws InterruptedException {
    if (!running.awaitCaughtUp(timeout)) {
      throw new IllegalStateException("kv2pg did not catch up within " + timeout + ": " + running.status());
    }
  }

  /**
   * Compares the table with what it must hold; on a mismatch records a problem.
   *
   * @return the text for the table-check column
   */
  String check(Rows.Kind kind, String table, Checksum expected, String what) throws SQLException {
    Checksum actual = Checksum.ofTable(pg, kind, table);
    if (actual.equals(expected)) {
      return "ok (" + actual.count() + " rows match)";
    }
    results.problem(what + ": table " + table + " does not hold what the store holds: expected "
        + expected + " but found " + actual);
    return "MISMATCH";
  }

  /** Runs {@code threads} application threads and waits for them; rethrows the first failure. */
  static void runThreads(int threads, ThreadWork work) throws Exception {
    List<Thread> started = new ArrayList<>();
    Throwable[] failures = new Throwable[threads];
    for (int t = 0; t < threads; t++) {
      int thread = t;
      Thread th = new Thread(() -> {
        try {
          work.run(thread);
        } catch (Throwable e) {
          failures[thread] = e;
        } finally {
          APPLICATION_CPU.addAndGet(java.lang.management.ManagementFactory.getThreadMXBean()
              .getCurrentThreadCpuTime());
        }
      }, "app-writer-" + t);
      th.start();
      started.add(th);
    }
    for (Thread th : started) {
      th.join();
    }
    for (Throwable failure : failures) {
      if (failure instanceof Exception e) {
        throw e;
      }
      if (failure instanceof Error e) {
        throw e;
      }
    }
  }

  /** Records a throughput figure and its cost. */
  void report(String scenario, String system, long rows, Span span, String unit, String check, String detail) {
    double rate = rows / span.seconds();
    results.add(scenario, system, Math.round(rate), unit, String.format(Locale.ROOT, "%,d rows in %.2f s%s",
        rows, span.seconds(), detail == null ? "" : "; " + detail));
    results.cost(new Results.Cost(scenario, system, span.seconds(), span.jvmCpu(), span.pgCpu(), rows, check,
        span.pgRoles(), span.jvmRoles(), span.transactions()));
  }
}
