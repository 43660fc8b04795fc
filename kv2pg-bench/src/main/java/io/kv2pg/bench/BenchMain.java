package io.kv2pg.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The benchmark harness: {@code java -jar kv2pg-bench.jar [--quick] [--postgres URL] [--only
 * NAMES]}, or {@code java -jar kv2pg-bench.jar report [--png FILE] RUN_OUTPUT...} to combine the
 * outputs of several runs into medians, a ratio table and a chart, or {@code java -jar
 * kv2pg-bench.jar ops-chart} for the lag picture of docs/OPERATIONS.md ({@link OpsChart}).
 */
public final class BenchMain {
  static final List<String> SCENARIOS =
      List.of("copy-narrow", "copy-wide", "stream", "fan-in-4", "lag-1k", "lag-5k", "lag-20k", "copy-10m",
          "copy-50m");

  private BenchMain() {}

  public static void main(String[] args) throws Exception {
    System.exit(run(args, System.out));
  }

  static final String USAGE = """
      usage: java -jar kv2pg-bench.jar [--quick] [--postgres JDBC_URL] [--only SCENARIO,...] [--work-dir DIR]
             java -jar kv2pg-bench.jar report [--png FILE] RUN_OUTPUT...
             java -jar kv2pg-bench.jar ops-chart [--png FILE] [--postgres JDBC_URL]

        --quick       smaller sizes (about 3 minutes on 2 cores); the default is the full run (about 10-20)
        --postgres    a server to use instead of the embedded one (schema kv2pg_bench is dropped and
                      recreated; the user must be allowed to create schemas)
        --only        run only these scenarios: %s (or copy, lag)
        --work-dir    where the RocksDB stores go (default: a new folder under java.io.tmpdir)
        report        reads RESULT lines of several runs and prints medians, ratios and targets as
                      Markdown; --png also draws the throughput and lag chart
        ops-chart     one replication under a changing write rate and a table lock, sampled from its
                      meters; draws lag and rows/s over time (default docs/operations-lag.png)
      """;

  /** Runs the harness; returns the exit code. */
  static int run(String[] args, PrintStream out) throws Exception {
    if (args.length > 0 && args[0].equals("report")) {
      return Report.run(List.of(args).subList(1, args.length), out);
    }
    if (args.length > 0 && args[0].equals("ops-chart")) {
      return OpsChart.run(List.of(args).subList(1, args.length), out);
    }
    Scale scale = Scale.FULL;
    String url = null;
    Path workDir = null;
    Set<String> only = new LinkedHashSet<>(SCENARIOS);
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--quick" -> scale = Scale.QUICK;
        case "--tiny" -> scale = Scale.TINY; // for the test suite: proves every scenario runs
        case "--full" -> scale = Scale.FULL;
        case "--postgres" -> url = value(args, ++i, "--postgres");
        case "--work-dir" -> workDir = Path.of(value(args, ++i, "--work-dir"));
        case "--only" -> only = select(value(args, ++i, "--only"));
        case "-h", "--help" -> {
          out.printf(USAGE, String.join(", ", SCENARIOS));
          return 0;
        }
        default -> {
          out.printf("unknown argument: %s%n" + USAGE, args[i], String.join(", ", SCENARIOS));
          return 2;
        }
      }
    }
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    }
    boolean ownWorkDir = workDir == null;
    if (ownWorkDir) {
      workDir = Files.createTempDirectory("kv2pg-bench-");
    } else {
      Files.createDirectories(workDir);
    }
    long started = System.nanoTime();
    Results results = new Results(out);
    out.println("# kv2pg benchmark, scale " + scale.name() + ": " + scale);
    out.println("# machine: " + machine());
    out.println("# load average at start: " + loadAverage());
    try (Pg pg = Pg.start(url)) {
      out.println("# postgres: " + pg.describe());
      Context ctx = new Context(pg, scale, results, workDir, out);
      for (String scenario : SCENARIOS) {
        if (!only.contains(scenario)) {
          continue;
        }
        ctx.log("--- %s (load average %s)", scenario, loadAverage());
        long t0 = System.nanoTime();
        try {
          switch (scenario) {
            case "copy-narrow" -> CopyScenario.run(ctx, Rows.Kind.NARROW);
            case "copy-wide" -> CopyScenario.run(ctx, Rows.Kind.WIDE);
            case "stream" -> StreamScenario.run(ctx);
            case "fan-in-4" -> FanInScenario.run(ctx);
            case "lag-1k" -> LagScenario.run(ctx, 1_000);
            case "lag-5k" -> LagScenario.run(ctx, 5_000);
            case "lag-20k" -> LagScenario.run(ctx, 20_000);
            case "copy-10m" -> MemoryScenario.run(ctx, scenario, 1);
            case "copy-50m" -> MemoryScenario.run(ctx, scenario, 5);
            default -> throw new IllegalStateException(scenario);
          }
        } catch (Exception | Error e) {
          results.problem(scenario + " failed: " + e);
          e.printStackTrace(out);
        }
        ctx.log("%s took %.1f s", scenario, (System.nanoTime() - t0) / 1e9);
      }
      pg.forgetReplications();
    } finally {
      if (ownWorkDir) {
        Store.delete(workDir);
      }
    }
    out.println("# load average at end: " + loadAverage());
    out.printf(Locale.ROOT, "# total time %.1f s%n", (System.nanoTime() - started) / 1e9);
    results.printTables();
    return results.problems().isEmpty() ? 0 : 1;
  }

  private static String value(String[] args, int i, String option) {
    if (i >= args.length) {
      throw new IllegalArgumentException(option + " needs a value");
    }
    return args[i];
  }

  private static Set<String> select(String names) {
    Set<String> selected = new LinkedHashSet<>();
    for (String name : names.split(",")) {
      List<String> matching = new ArrayList<>();
      for (String scenario : SCENARIOS) {
        if (scenario.equals(name) || scenario.startsWith(name + "-")) {
          matching.add(scenario);
        }
      }
      if (matching.isEmpty()) {
        throw new IllegalArgumentException("no scenario " + name + "; scenarios: " + SCENARIOS);
      }
      selected.addAll(matching);
    }
    return selected;
  }

  static String machine() {
    String cpu = "unknown CPU";
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("model name")) {
          cpu = line.substring(line.indexOf(':') + 1).trim();
          break;
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux
    }
    long memory = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getTotalMemorySize();
    return Runtime.getRuntime().availableProcessors() + " cores (" + cpu + "), "
        + (memory >> 20) + " MiB RAM, " + System.getProperty("os.name") + " " + System.getProperty("os.version")
        + ", Java " + System.getProperty("java.vm.version") + " (" + System.getProperty("java.vm.name")
        + "), max heap " + (Runtime.getRuntime().maxMemory() >> 20) + " MiB";
  }

  static String loadAverage() {
    try {
      String[] parts = Files.readString(Path.of("/proc/loadavg")).trim().split(" ");
      return parts[0] + " " + parts[1] + " " + parts[2];
    } catch (IOException | RuntimeException e) {
      return "n/a";
    }
  }
}
