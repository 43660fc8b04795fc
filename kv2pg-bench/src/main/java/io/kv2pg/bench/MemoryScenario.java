package io.kv2pg.bench;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * copy-10m and copy-50m: kv2pg's initial copy of {@link Scale#memoryRows()} narrow entries, and of
 * five times as many, in a child JVM with {@code -Xmx256m}; the figure is the child's peak heap use
 * (sampled every 2 ms, garbage included: what had to fit), and the detail gives the largest live
 * heap after a collection. The two sizes in the same heap show that the copy's memory does not
 * grow with the store.
 */
final class MemoryScenario {
  static final String HEAP = "-Xmx256m";

  private MemoryScenario() {}

  /**
   * Runs one size.
   *
   * @param scenario the scenario's name, which also names its table
   * @param sizeFactor the multiple of {@link Scale#memoryRows()} to copy
   */
  static void run(Context ctx, String scenario, int sizeFactor) throws Exception {
    int rows = Math.multiplyExact(ctx.scale.memoryRows(), sizeFactor);
    Path dir = ctx.workDir.resolve(scenario);
    String table = scenario.replace('-', '_') + "_kv2pg";
    Store.delete(dir);
    try {
      ctx.log("%s: loading %,d narrow entries into RocksDB", scenario, rows);
      try (Store store = new Store(dir)) {
        store.load(Rows.Kind.NARROW, rows);
      }
      List<String> command = new ArrayList<>(List.of(
          Path.of(System.getProperty("java.home"), "bin", "java").toString(), HEAP,
          "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
          "-cp", System.getProperty("java.class.path"), MemoryChild.class.getName(),
          dir.toString(), ctx.pg.url, table, ctx.replicationName(scenario)));
      ctx.log("%s: child JVM %s copies them", scenario, HEAP);
      Context.Stopwatch watch = ctx.stopwatch();
      Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
      Map<String, String> reported = new HashMap<>();
      try (BufferedReader lines = new BufferedReader(
          new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = lines.readLine()) != null) {
          if (line.startsWith("MEMORY ")) {
            for (String field : line.substring(7).split(" ")) {
              int eq = field.indexOf('=');
              reported.put(field.substring(0, eq), field.substring(eq + 1));
            }
          } else {
            ctx.log("child: %s", line);
          }
        }
      }
      int exit = child.waitFor();
      Context.Span span = watch.stop();
      if (exit != 0 || !"true".equals(reported.get("ok"))) {
        ctx.results.problem(scenario + ": the child JVM with " + HEAP + " did not complete the copy (exit "
            + exit + ", " + reported + ")");
        return;
      }
      Checksum expected = new Checksum(Rows.Kind.NARROW);
      for (long id = 0; id < rows; id++) {
        expected.addModel(id, 0);
      }
      String check = ctx.check(Rows.Kind.NARROW, table, expected, scenario + " kv2pg");
      double seconds = Double.parseDouble(reported.get("seconds"));
      ctx.results.add(scenario, "kv2pg", Double.parseDouble(reported.get("peakUsedMiB")), "MiB-peak-heap",
          String.format(Locale.ROOT, "%,d rows copied with %s in %.1f s (%,.0f rows/s); live heap after GC"
              + " at most %s MiB; GC: %s collections, %s ms", rows, HEAP, seconds, rows / seconds,
              reported.get("peakAfterGcMiB"), reported.get("gcCount"), reported.get("gcMillis")));
      ctx.results.cost(new Results.Cost(scenario, "kv2pg", span.seconds(), Double.NaN, span.pgCpu(), rows, check,
          span.pgRoles(), Map.of(), span.transactions()));
    } finally {
      ctx.pg.dropTable(table);
      Store.delete(dir);
    }
  }
}
