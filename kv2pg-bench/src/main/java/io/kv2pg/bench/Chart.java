package io.kv2pg.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;

/** Draws the benchmark chart: throughput on the left, lag on the right, both on log scales. */
final class Chart {
  private static final List<String> SYSTEMS = List.of("kv2pg", "raw-copy", "best-upsert", "crate-style", "naive-jdbc");
  private static final Color[] COLORS = {new Color(0x1f77b4), new Color(0x7f7f7f), new Color(0x2ca02c),
      new Color(0xff7f0e), new Color(0xd62728)};
  private static final int WIDTH = 1500;
  private static final int HEIGHT = 620;

  private Chart() {}

  static void draw(Map<String, Double> medians, Path png) throws IOException {
    System.setProperty("java.awt.headless", "true");
    BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, WIDTH, HEIGHT);
    panel(g, medians, 0, "Throughput (rows/s or changes/s, log scale; medians)",
        List.of("copy-narrow", "copy-wide", "stream"), "rows/s|changes/s", null, Map.of());
    panel(g, medians, WIDTH / 2, "Lag from write to commit (ms, log scale; bar = p99, line = p50)",
        List.of("lag-1k", "lag-5k", "lag-20k"), "ms-p99", "ms-p50", Targets.LAG_P99_GOALS);
    // legend
    int x = 90;
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 15));
    for (int i = 0; i < SYSTEMS.size(); i++) {
      g.setColor(COLORS[i]);
      g.fillRect(x, HEIGHT - 32, 18, 18);
      g.setColor(Color.BLACK);
      g.drawString(SYSTEMS.get(i), x + 24, HEIGHT - 17);
      x += 160;
    }
    g.setColor(new Color(0x9467bd));
    g.setStroke(new BasicStroke(2, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[] {8, 6}, 0));
    g.drawLine(x, HEIGHT - 23, x + 40, HEIGHT - 23);
    g.setStroke(new BasicStroke(1));
    g.setColor(Color.BLACK);
    g.drawString("goal: lag p99 <= " + goal("lag-5k") + " ms at 5,000/s, <= " + goal("lag-20k") + " ms at 20,000/s",
        x + 48, HEIGHT - 17);
    g.dispose();
    ImageIO.write(image, "png", png.toFile());
  }

  private static String goal(String scenario) {
    return String.format(java.util.Locale.ROOT, "%.0f", Targets.LAG_P99_GOALS.get(scenario));
  }

  private static void panel(Graphics2D g, Map<String, Double> medians, int left, String title, List<String> groups,
      String units, String tickUnit, Map<String, Double> goals) {
    int top = 60;
    int bottom = HEIGHT - 110;
    int x0 = left + 80;
    int x1 = left + WIDTH / 2 - 30;
    g.setColor(Color.BLACK);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 17));
    g.drawString(title, left + 40, 30);
    List<Double> all = new ArrayList<>();
    for (String group : groups) {
      for (String system : SYSTEMS) {
        Double v = value(medians, group, system, units);
        if (v != null && v > 0) {
          all.add(v);
        }
        Double tick = tickUnit == null ? null : value(medians, group, system, tickUnit);
        if (tick != null && tick > 0) {
          all.add(tick);
        }
      }
    }
    all.addAll(goals.values());
    if (all.isEmpty()) {
      return;
    }
    double lo = Math.floor(Math.log10(all.stream().mapToDouble(Double::doubleValue).min().getAsDouble()));
    double hi = Math.ceil(Math.log10(all.stream().mapToDouble(Double::doubleValue).max().getAsDouble()) + 0.15);
    if (hi <= lo) {
      hi = lo + 1;
    }
    double fLo = lo;
    double fHi = hi;
    java.util.function.DoubleUnaryOperator y =
        v -> bottom - (Math.log10(Math.max(v, Math.pow(10, fLo))) - fLo) / (fHi - fLo) * (bottom - top);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    for (double d = lo; d <= hi; d++) {
      int yy = (int) y.applyAsDouble(Math.pow(10, d));
      g.setColor(new Color(0xdddddd));
      g.drawLine(x0, yy, x1, yy);
      g.setColor(Color.DARK_GRAY);
      g.drawString(label(Math.pow(10, d)), x0 - 60, yy + 5);
    }
    g.setColor(Color.BLACK);
    g.drawLine(x0, top, x0, bottom);
    g.drawLine(x0, bottom, x1, bottom);
    int groupWidth = (x1 - x0) / groups.size();
    for (int gi = 0; gi < groups.size(); gi++) {
      Double goal = goals.get(groups.get(gi));
      if (goal != null) { // a dashed line over the group's bars
        int yy = (int) y.applyAsDouble(goal);
        g.setColor(new Color(0x9467bd));
        g.setStroke(new BasicStroke(2, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[] {8, 6}, 0));
        g.drawLine(x0 + gi * groupWidth + 5, yy, x0 + (gi + 1) * groupWidth - 5, yy);
        g.setStroke(new BasicStroke(1));
      }
    }
    for (int gi = 0; gi < groups.size(); gi++) {
      String group = groups.get(gi);
      List<Integer> present = new ArrayList<>();
      for (int s = 0; s < SYSTEMS.size(); s++) {
        if (value(medians, group, SYSTEMS.get(s), units) != null) {
          present.add(s);
        }
      }
      int gx = x0 + gi * groupWidth;
      g.setColor(Color.BLACK);
      g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
      g.drawString(group, gx + groupWidth / 2 - 40, bottom + 22);
      if (present.isEmpty()) {
        continue;
      }
      int barWidth = Math.min(60, (groupWidth - 30) / present.size());
      int bx = gx + (groupWidth - barWidth * present.size()) / 2;
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
      for (int s : present) {
        double v = value(medians, group, SYSTEMS.get(s), units);
        int yy = (int) y.applyAsDouble(v);
        g.setColor(COLORS[s]);
        g.fillRect(bx + 3, yy, barWidth - 6, bottom - yy);
        g.setColor(Color.BLACK);
        g.drawString(label(v), bx + 2, yy - 4);
        if (tickUnit != null) {
          Double tick = value(medians, group, SYSTEMS.get(s), tickUnit);
          if (tick != null) {
            int ty = (int) y.applyAsDouble(tick);
            g.setStroke(new BasicStroke(3));
            g.setColor(Color.BLACK);
            g.drawLine(bx + 3, ty, bx + barWidth - 3, ty);
            g.setStroke(new BasicStroke(1));
          }
        }
        bx += barWidth;
      }
    }
  }

  private static Double value(Map<String, Double> medians, String scenario, String system, String units) {
    for (String unit : units.split("\\|")) {
      Double v = medians.get(scenario + " " + system + " " + unit);
      if (v != null) {
        return v;
      }
    }
    return null;
  }

  private static String label(double v) {
    if (v >= 1e6) {
      return String.format(java.util.Locale.ROOT, "%.2fM", v / 1e6);
    }
    if (v >= 1e3) {
      return String.format(java.util.Locale.ROOT, "%.0fk", v / 1e3);
    }
    if (v >= 10) {
      return String.format(java.util.Locale.ROOT, "%.0f", v);
    }
    return String.format(java.util.Locale.ROOT, "%.2g", v);
  }
}
