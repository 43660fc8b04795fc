package io.kv2pg.bench;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The figures of one run: printed as {@code RESULT <scenario> <system> <value> <unit>} the moment
 * each is measured, and as readable tables at the end.
 */
final class Results {
  /** One figure. {@code detail} is free text for the readable table. */
  record Figure(String scenario, String system, double value, String unit, String detail) {}

  /** What a system's run cost, for the readable table. */
  record Cost(String scenario, String system, double seconds, double jvmCpu, double pgCpu, long rows,
      String check, Map<String, Double> pgRoles, Map<String, Double> jvmRoles, long transactions) {}

  private final PrintStream out;
  private final List<Figure> figures = new ArrayList<>();
  private final List<Cost> costs = new ArrayList<>();
  private final List<String> problems = new ArrayList<>();

  Results(PrintStream out) {
    this.out = out;
  }

  synchronized void add(String scenario, String system, double value, String unit, String detail) {
    figures.add(new Figure(scenario, system, value, unit, detail));
    out.println("RESULT " + scenario + " " + system + " " + format(value) + " " + unit);
    out.flush();
  }

  synchronized void cost(Cost cost) {
    costs.add(cost);
  }

  synchronized void problem(String problem) {
    problems.add(problem);
    out.println("WARNING " + problem);
    out.flush();
  }

  List<String> problems() {
    return problems;
  }

  List<Figure> figures() {
    return figures;
  }

  static String format(double value) {
    if (Double.isNaN(value)) {
      return "NaN";
    }
    if (value == Math.rint(value) && Math.abs(value) < 1e15) {
      return Long.toString((long) value);
    }
    return String.format(Locale.ROOT, Math.abs(value) >= 100 ? "%.1f" : "%.3f", value);
  }

  Optional<Double> value(String scenario, String system, String unit) {
    return figures.stream()
        .filter(f -> f.scenario().equals(scenario) && f.system().equals(system) && f.unit().equals(unit))
        .map(Figure::value).findFirst();
  }

  /** Prints the readable tables. */
  void printTables() {
    out.println();
    out.println("== Results ==");
    out.printf(Locale.ROOT, "%-12s %-12s %14s %-12s  %s%n", "scenario", "system", "value", "unit", "detail");
    for (Figure f : figures) {
      out.printf(Locale.ROOT, "%-12s %-12s %14s %-12s  %s%n", f.scenario(), f.system(), format(f.value()),
          f.unit(), f.detail() == null ? "" : f.detail());
    }
    out.println();
    out.println("== Cost per system run (CPU seconds of this JVM and of the Postgres server) ==");
    out.printf(Locale.ROOT, "%-12s %-12s %10s %9s %9s %12s %14s %14s %10s  %s%n", "scenario", "system", "rows",
        "wall s", "jvm cpu", "pg cpu", "jvm us/row", "pg us/row", "pg xacts", "table check");
    for (Cost c : costs) {
      out.printf(Locale.ROOT, "%-12s %-12s %10d %9.2f %9.2f %12s %14.1f %14s %10d  %s%n", c.scenario(), c.system(),
          c.rows(), c.seconds(), c.jvmCpu(), Double.isNaN(c.pgCpu()) ? "n/a" : String.format(Locale.ROOT, "%.2f", c.pgCpu()),
          c.jvmCpu() * 1e6 / Math.max(1, c.rows()),
          Double.isNaN(c.pgCpu()) ? "n/a" : String.format(Locale.ROOT, "%.1f", c.pgCpu() * 1e6 / Math.max(1, c.rows())),
          c.transactions(), c.check());
    }
    out.println();
    out.println("== Where the CPU went, per system run: JVM threads | Postgres processes (CPU seconds) ==");
    for (Cost c : costs) {
      out.printf(Locale.ROOT, "%-12s %-12s%s |%s%n", c.scenario(), c.system(), roles(c.jvmRoles()),
          roles(c.pgRoles()));
    }
    out.println();
    out.println("== Ratios and targets ==");
    for (String line : Targets.evaluate(this::value)) {
      out.println(line);
    }
    if (!problems.isEmpty()) {
      out.println();
      out.println("== Problems ==");
      problems.forEach(p -> out.println("  " + p));
    }
    out.flush();
  }

  private static String roles(Map<String, Double> roles) {
    StringBuilder text = new StringBuilder();
    if (roles != null) {
      roles.entrySet().stream().filter(e -> e.getValue() >= 0.005)
          .sorted(Map.Entry.<String, Double>comparingByValue().reversed())
          .forEach(e -> text.append(String.format(Locale.ROOT, "  %s %.2f", e.getKey(), e.getValue())));
    }
    return text.toString();
  }

  /** The figures keyed by "scenario system unit", for reports. */
  Map<String, Double> asMap() {
    Map<String, Double> map = new LinkedHashMap<>();
    figures.forEach(f -> map.put(f.scenario() + " " + f.system() + " " + f.unit(), f.value()));
    return map;
  }
}
