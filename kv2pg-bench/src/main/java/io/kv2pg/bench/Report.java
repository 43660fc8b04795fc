package io.kv2pg.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * {@code report [--png FILE] RUN_OUTPUT...}: the medians of several runs' RESULT lines, as Markdown
 * tables (figures, then ratios and targets), and optionally a PNG chart of throughput and lag. A
 * ratio is computed within each run (kv2pg and its baseline ran on the same rows, server and
 * minute) and the median of those per-run ratios is reported, since absolute figures drift
 * between runs on a shared machine.
 */
final class Report {
  private Report() {}

  static int run(List<String> args, PrintStream out) throws IOException {
    Path png = null;
    List<Path> files = new ArrayList<>();
    for (int i = 0; i < args.size(); i++) {
      if (args.get(i).equals("--png") && i + 1 < args.size()) {
        png = Path.of(args.get(++i));
      } else {
        files.add(Path.of(args.get(i)));
      }
    }
    if (files.isEmpty()) {
      out.println("usage: report [--png FILE] RUN_OUTPUT...");
      return 2;
    }
    Map<String, List<Double>> runs = new LinkedHashMap<>();
    Map<String, List<Double>> ratios = new LinkedHashMap<>();
    Map<String, String> goals = new LinkedHashMap<>();
    for (Path file : files) {
      Map<String, Double> run = new LinkedHashMap<>();
      for (String line : Files.readAllLines(file)) {
        String[] f = line.trim().split("\\s+");
        if (f.length == 5 && f[0].equals("RESULT")) {
          String key = f[1] + " " + f[2] + " " + f[4];
          runs.computeIfAbsent(key, k -> new ArrayList<>()).add(Double.parseDouble(f[3]));
          run.put(key, Double.parseDouble(f[3]));
        }
      }
      for (String line : Targets.evaluate((scenario, system, unit) ->
          Optional.ofNullable(run.get(scenario + " " + system + " " + unit)))) {
        String[] f = line.trim().split("\\s+");
        if (f[0].equals("TARGET")) {
          ratios.computeIfAbsent(f[1], k -> new ArrayList<>()).add(Double.parseDouble(f[2]));
          goals.put(f[1], f[3]);
        } else if (f[0].equals("RATIO")) {
          ratios.computeIfAbsent(f[1] + " " + f[2], k -> new ArrayList<>()).add(Double.parseDouble(f[3]));
        }
      }
    }
    Map<String, Double> medians = new LinkedHashMap<>();
    runs.forEach((key, values) -> medians.put(key, median(values)));

    out.println("| scenario | system | median | unit | runs |");
    out.println("| --- | --- | ---: | --- | --- |");
    runs.forEach((key, values) -> {
      String[] k = key.split(" ");
      out.println("| " + k[0] + " | " + k[1] + " | " + Results.format(medians.get(key)) + " | " + k[2] + " | "
          + String.join(", ", values.stream().map(Results::format).toList()) + " |");
    });
    out.println();
    out.println("| ratio or target | median of the per-run values | runs | goal | status |");
    out.println("| --- | ---: | --- | --- | --- |");
    ratios.forEach((name, values) -> {
      double median = median(values);
      String goal = goals.get(name);
      String status = "";
      if (goal != null) {
        double bound = Double.parseDouble(goal.substring(2));
        status = (goal.startsWith(">=") ? median >= bound : median <= bound) ? "MET" : "MISSED";
      }
      out.println("| " + name + " | " + format(median) + " | "
          + String.join(", ", values.stream().map(Report::format).toList()) + " | "
          + (goal == null ? "" : goal) + " | " + status + " |");
    });
    List<String> lagLines = new ArrayList<>();
    for (String line : Targets.evaluate((scenario, system, unit) ->
        Optional.ofNullable(medians.get(scenario + " " + system + " " + unit)))) {
      if (!line.startsWith("TARGET") && !line.startsWith("RATIO")) {
        lagLines.add(line);
      }
    }
    if (!lagLines.isEmpty()) {
      out.println();
      out.println("```");
      lagLines.forEach(out::println);
      out.println("```");
    }
    if (png != null) {
      Chart.draw(medians, png);
      out.println();
      out.println("chart written to " + png);
    }
    return 0;
  }

  static double median(List<Double> values) {
    List<Double> sorted = new ArrayList<>(values);
    sorted.sort(null);
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }

  static String format(double value) {
    return String.format(Locale.ROOT, "%.2f", value);
  }
}
