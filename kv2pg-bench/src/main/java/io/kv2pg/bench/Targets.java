package io.kv2pg.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/** The targets, evaluated from a set of figures (one run's, or medians of several). */
final class Targets {
  /** Looks a figure up. */
  @FunctionalInterface
  interface Lookup {
    Optional<Double> value(String scenario, String system, String unit);
  }

  /** The lag goals: kv2pg's p99 in milliseconds, by scenario. */
  static final Map<String, Double> LAG_P99_GOALS = Map.of("lag-5k", 10.0, "lag-20k", 25.0);

  private Targets() {}

  /** Returns one line per ratio and target: {@code TARGET <name> <value> <goal> MET|MISSED}. */
  static List<String> evaluate(Lookup figures) {
    List<String> lines = new ArrayList<>();
    for (String copy : List.of("copy-narrow", "copy-wide")) {
      ratio(lines, figures, copy, "rows/s", "raw-copy", copy.equals("copy-narrow") ? 0.90 : 0.85);
      ratio(lines, figures, copy, "rows/s", "best-upsert", Double.NaN);
      ratio(lines, figures, copy, "rows/s", "crate-style", Double.NaN);
      ratio(lines, figures, copy, "rows/s", "naive-jdbc", Double.NaN);
    }
    ratio(lines, figures, "stream", "changes/s", "best-upsert", 0.80);
    ratio(lines, figures, "stream", "changes/s", "naive-jdbc", 20);
    ratio(lines, figures, "stream", "changes/s", "crate-style", 2);
    // Four stores into one table against one store into its own: what fan-in costs or gains.
    Optional<Double> fanIn = figures.value(FanInScenario.SCENARIO, "kv2pg", "changes/s");
    Optional<Double> stream = figures.value("stream", "kv2pg", "changes/s");
    if (fanIn.isPresent() && stream.isPresent() && stream.get() != 0) {
      lines.add(String.format(Locale.ROOT, "RATIO %s kv2pg/stream-kv2pg %.2f", FanInScenario.SCENARIO,
          fanIn.get() / stream.get()));
    }
    for (String lag : List.of("lag-1k", "lag-5k", "lag-20k")) {
      for (String system : List.of("kv2pg", "crate-style", "naive-jdbc")) {
        Optional<Double> p50 = figures.value(lag, system, "ms-p50");
        Optional<Double> p99 = figures.value(lag, system, "ms-p99");
        Optional<Double> max = figures.value(lag, system, "ms-max");
        if (p99.isPresent()) {
          lines.add(String.format(Locale.ROOT, "  %-12s %-12s p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms", lag,
              system, p50.orElse(Double.NaN), p99.get(), max.orElse(Double.NaN)));
        }
      }
    }
    for (String lag : List.of("lag-5k", "lag-20k")) {
      atMost(lines, figures, lag, "ms-p99", lag + "-p99", LAG_P99_GOALS.get(lag));
    }
    atMost(lines, figures, "copy-10m", "MiB-peak-heap", "copy-10m-heap", 256);
    atMost(lines, figures, "copy-50m", "MiB-peak-heap", "copy-50m-heap", 256);
    Optional<Double> heap10 = figures.value("copy-10m", "kv2pg", "MiB-peak-heap");
    figures.value("copy-50m", "kv2pg", "MiB-peak-heap").filter(mib -> heap10.isPresent()).ifPresent(mib ->
        lines.add(String.format(Locale.ROOT, "RATIO copy-50m/copy-10m peak-heap %.2f", mib / heap10.get())));
    return lines;
  }

  private static void atMost(List<String> lines, Lookup figures, String scenario, String unit, String target,
      double limit) {
    figures.value(scenario, "kv2pg", unit).ifPresent(value -> lines.add(String.format(Locale.ROOT,
        "TARGET %s %.2f <=%s %s", target, value, (long) limit, value <= limit ? "MET" : "MISSED")));
  }

  private static void ratio(List<String> lines, Lookup figures, String scenario, String unit,
      String baseline, double goal) {
    Optional<Double> ours = figures.value(scenario, "kv2pg", unit);
    Optional<Double> theirs = figures.value(scenario, baseline, unit);
    if (ours.isEmpty() || theirs.isEmpty() || theirs.get() == 0) {
      return;
    }
    double ratio = ours.get() / theirs.get();
    if (Double.isNaN(goal)) {
      lines.add(String.format(Locale.ROOT, "RATIO %s kv2pg/%s %.2f", scenario, baseline, ratio));
    } else {
      lines.add(String.format(Locale.ROOT, "TARGET %s-vs-%s %.2f >=%s %s", scenario, baseline, ratio,
          goal == Math.rint(goal) ? Long.toString((long) goal) : Double.toString(goal),
          ratio >= goal ? "MET" : "MISSED"));
    }
  }
}
