package io.kv2pg.bench;

import io.kv2pg.Replication;
import io.kv2pg.ReplicationStatus;
import io.kv2pg.RunningReplication;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.DoubleUnaryOperator;
import java.util.function.ToDoubleFunction;
import javax.imageio.ImageIO;

/**
 * {@code java -jar kv2pg-bench.jar ops-chart [--png FILE] [--postgres URL]}: the picture of
 * docs/OPERATIONS.md. One replication, with its meters in a {@link SimpleMeterRegistry} and
 * {@code stallAfter(3 s)}, while one application thread writes to the store at a rate that
 * changes: steady, a burst, steady again while another session holds a lock on the table for
 * {@value #LOCK_SECONDS} s (kv2pg's transaction waits, the lag climbs, the stall shows), then steady
 * to the end. Every {@value #SAMPLE_MILLIS} ms it reads {@code kv2pg.lag}, {@code kv2pg.rows.applied}
 * (all mappings and ops), {@code kv2pg.copy.rows} and {@code kv2pg.stalled}, and draws lag (ms) and
 * rows/s over time.
 */
final class OpsChart {
  private static final String TABLE = "ops_chart";
  private static final int BASE = 100_000;
  private static final int STEADY_RATE = 1_000;
  private static final int BURST_RATE = 10_000;
  private static final double BURST_FROM = 8;
  private static final double BURST_TO = 11;
  private static final double LOCK_FROM = 16;
  private static final int LOCK_SECONDS = 8;
  private static final double END = 32;
  private static final Duration STALL_AFTER = Duration.ofSeconds(3);
  private static final long SAMPLE_MILLIS = 200;
  private static final int WIDTH = 1400;
  private static final int HEIGHT = 800;

  private OpsChart() {}

  /** One reading of the meters, {@code t} seconds after the writes began. */
  private record Sample(double t, double lagMillis, double rows, double copyRows, double writes, boolean stalled,
      String state) {}

  static int run(List<String> args, PrintStream out) throws Exception {
    Path png = Path.of("docs", "operations-lag.png");
    String url = null;
    for (int i = 0; i < args.size(); i++) {
      switch (args.get(i)) {
        case "--png" -> png = Path.of(args.get(++i));
        case "--postgres" -> url = args.get(++i);
        default -> {
          out.println("usage: java -jar kv2pg-bench.jar ops-chart [--png FILE] [--postgres JDBC_URL]");
          return 2;
        }
      }
    }
    // The run's kv2pg log lines (state changes, the stall) are part of what it shows.
    if (System.getProperty("org.slf4j.simpleLogger.log.io.kv2pg") == null) {
      System.setProperty("org.slf4j.simpleLogger.log.io.kv2pg", "info");
    }
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    }
    Path dir = Files.createTempDirectory("kv2pg-ops-chart-");
    List<Sample> samples = new ArrayList<>();
    List<String> waits = new ArrayList<>();
    try (Pg pg = Pg.start(url); Store store = new Store(dir.resolve("store"))) {
      out.println("# postgres: " + pg.describe());
      store.load(Rows.Kind.NARROW, BASE);
      MeterRegistry registry = new SimpleMeterRegistry();
      AtomicLong writes = new AtomicLong();
      try (RunningReplication running = Replication.builder().postgres(pg.url).source(store.db)
          .name("bench-ops-chart").stallAfter(STALL_AFTER).meterRegistry(registry)
          .tree(Rows.Kind.NARROW.mapping(store.family, TABLE)).build().start()) {
        long start = System.nanoTime();
        Thread writer = new Thread(() -> write(store, pg, start, writes, out), "ops-chart-writer");
        writer.setDaemon(true);
        writer.start();
        long next = start;
        while (writer.isAlive() || System.nanoTime() - start < seconds(END)) {
          next += TimeUnit.MILLISECONDS.toNanos(SAMPLE_MILLIS);
          long now;
          while ((now = System.nanoTime()) < next) {
            LockSupport.parkNanos(next - now);
          }
          ReplicationStatus status = running.status();
          status.waitingFor().filter(w -> waits.stream().noneMatch(seen -> sameWait(seen, w))).ifPresent(waits::add);
          samples.add(new Sample((now - start) / 1e9,
              registry.get("kv2pg.lag").timeGauge().value(TimeUnit.MILLISECONDS),
              sum(registry, "kv2pg.rows.applied"), sum(registry, "kv2pg.copy.rows"), writes.get(),
              registry.get("kv2pg.stalled").gauge().value() == 1, status.state().name().toLowerCase(Locale.ROOT)));
        }
        writer.join();
        Context.awaitCaughtUp(running, Duration.ofMinutes(2));
        out.println("# final status: " + running.status());
      }
      pg.forgetReplications();
      pg.dropTable(TABLE);
    } finally {
      Store.delete(dir);
    }
    for (String wait : waits) {
      out.println("# waitingFor: " + wait);
    }
    for (Sample s : samples) {
      out.printf(Locale.ROOT, "SAMPLE %.2f lag_ms=%.1f rows=%.0f copy_rows=%.0f writes=%.0f stalled=%d state=%s%n",
          s.t(), s.lagMillis(), s.rows(), s.copyRows(), s.writes(), s.stalled() ? 1 : 0, s.state());
    }
    draw(samples, waits, png);
    out.println("# chart: " + png);
    return 0;
  }

  /** The same wait, told at another moment ("..., running for 3 s" and "..., running for 4 s"). */
  private static boolean sameWait(String a, String b) {
    return a.replaceAll(", running for .*", "").equals(b.replaceAll(", running for .*", ""));
  }

  private static double sum(MeterRegistry registry, String name) {
    return registry.find(name).counters().stream().mapToDouble(Counter::count).sum();
  }

  private static long seconds(double s) {
    return (long) (s * 1e9);
  }

  /** The application: puts (and one delete in ten) at the phase's rate; holds the lock meanwhile. */
  private static void write(Store store, Pg pg, long start, AtomicLong writes, PrintStream out) {
    SplittableRandom random = new SplittableRandom(42);
    Connection lock = null;
    boolean locked = false;
    boolean released = false;
    try {
      double t = 0;
      long version = 1;
      while (t < END) {
        double rate = t >= BURST_FROM && t < BURST_TO ? BURST_RATE : STEADY_RATE;
        t += 1 / rate;
        long scheduled = start + seconds(t);
        long now;
        while ((now = System.nanoTime()) < scheduled) {
          LockSupport.parkNanos(scheduled - now);
        }
        if (!locked && t >= LOCK_FROM) {
          lock = pg.connect();
          lock.setAutoCommit(false);
          try (Statement statement = lock.createStatement()) {
            statement.execute("lock table " + Rows.qualified(TABLE) + " in exclusive mode");
          }
          locked = true;
          out.printf(Locale.ROOT, "# %.1f s: another session locks %s for %d s%n", t, Rows.qualified(TABLE),
              LOCK_SECONDS);
        }
        if (locked && !released && t >= LOCK_FROM + LOCK_SECONDS) {
          lock.commit();
          lock.close();
          released = true;
          out.printf(Locale.ROOT, "# %.1f s: lock released%n", t);
        }
        long id = random.nextLong(BASE);
        if (random.nextInt(10) == 0) {
          store.delete(id);
        } else {
          store.put(id, Rows.Kind.NARROW.value(id, version++));
        }
        writes.incrementAndGet();
      }
    } catch (Exception e) {
      throw new IllegalStateException("the ops-chart writer failed", e);
    } finally {
      if (lock != null && !released) {
        try {
          lock.close();
        } catch (Exception e) {
          out.println("# closing the lock's connection: " + e);
        }
      }
    }
  }

  // ---------------------------------------------------------------- drawing

  static void draw(List<Sample> samples, List<String> waits, Path png) throws java.io.IOException {
    System.setProperty("java.awt.headless", "true");
    BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, WIDTH, HEIGHT);
    g.setColor(Color.BLACK);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 18));
    g.drawString("One replication, sampled every " + SAMPLE_MILLIS + " ms from its Micrometer meters"
        + " (kv2pg-bench ops-chart, stallAfter = " + STALL_AFTER.toSeconds() + " s)", 40, 30);
    double tMax = samples.isEmpty() ? END : Math.max(END, samples.get(samples.size() - 1).t());
    List<double[]> rates = rates(samples);
    int x0 = 100;
    int x1 = WIDTH - 40;
    DoubleUnaryOperator x = t -> x0 + t / tMax * (x1 - x0);
    // top: lag
    int lagTop = 70;
    int lagBottom = 370;
    double lagMax = niceMax(samples.stream().mapToDouble(Sample::lagMillis).max().orElse(1));
    bands(g, samples, x, lagTop, lagBottom, true);
    axes(g, "kv2pg_lag_seconds, in ms", x0, x1, lagTop, lagBottom, lagMax, tMax, x);
    line(g, samples, Sample::lagMillis, x, v -> lagBottom - v / lagMax * (lagBottom - lagTop), new Color(0xd62728), 2.5f);
    waits.stream().filter(w -> w.contains("blocked by a lock")).findFirst().ifPresent(wait -> {
      g.setColor(Color.DARK_GRAY);
      g.setFont(new Font(Font.SANS_SERIF, Font.ITALIC, 13));
      int left = (int) x.applyAsDouble(LOCK_FROM) + 4;
      g.drawString("waitingFor: " + wait.replaceAll(", running for .*", ""), left - 330, lagTop + 60);
    });
    // bottom: rows/s
    int rowsTop = 440;
    int rowsBottom = 720;
    double rowsMax = niceMax(rates.stream().mapToDouble(r -> Math.max(r[1], r[3])).max().orElse(1));
    bands(g, samples, x, rowsTop, rowsBottom, false);
    axes(g, "rows/s: rate(kv2pg_rows_applied_total), by " + SAMPLE_MILLIS + " ms; application writes/s dashed",
        x0, x1, rowsTop, rowsBottom, rowsMax, tMax, x);
    DoubleUnaryOperator yRows = v -> rowsBottom - Math.min(v, rowsMax) / rowsMax * (rowsBottom - rowsTop);
    polyline(g, rates, 3, x, yRows, new Color(0x7f7f7f), 1.5f, true);
    polyline(g, rates, 2, x, yRows, new Color(0x2ca02c), 2f, false);
    polyline(g, rates, 1, x, yRows, new Color(0x1f77b4), 2.5f, false);
    g.setColor(Color.BLACK);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 14));
    g.drawString("seconds since start()", (x0 + x1) / 2 - 60, rowsBottom + 40);
    legend(g, 40, HEIGHT - 25);
    g.dispose();
    Path parent = png.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    ImageIO.write(image, "png", png.toFile());
  }

  /** Per interval: {t, stream rows/s, copy rows/s, writes/s}. */
  private static List<double[]> rates(List<Sample> samples) {
    List<double[]> rates = new ArrayList<>();
    for (int i = 1; i < samples.size(); i++) {
      Sample a = samples.get(i - 1);
      Sample b = samples.get(i);
      double dt = b.t() - a.t();
      rates.add(new double[] {b.t(), (b.rows() - a.rows()) / dt, (b.copyRows() - a.copyRows()) / dt,
          (b.writes() - a.writes()) / dt});
    }
    return rates;
  }

  /** Shades the burst, the lock and, where kv2pg_stalled was 1, the stall; labels them on top. */
  private static void bands(Graphics2D g, List<Sample> samples, DoubleUnaryOperator x, int top, int bottom,
      boolean label) {
    shade(g, x, BURST_FROM, BURST_TO, top, bottom, new Color(0xfff2cc), label ? "burst: " + BURST_RATE / 1000
        + "k writes/s" : null);
    shade(g, x, LOCK_FROM, LOCK_FROM + LOCK_SECONDS, top, bottom, new Color(0xe8e8f8),
        label ? "another session holds a lock on the table" : null);
    Double from = null;
    for (Sample s : samples) {
      if (s.stalled() && from == null) {
        from = s.t();
      } else if (!s.stalled() && from != null) {
        shade(g, x, from, s.t(), top + (label ? 24 : 0), bottom, new Color(0xf8d0d0), label ? "kv2pg_stalled = 1" : null);
        from = null;
      }
    }
    Double copyFrom = null;
    for (Sample s : samples) {
      if (s.state().equals("copying") && copyFrom == null) {
        copyFrom = s.t();
      } else if (!s.state().equals("copying") && copyFrom != null) {
        shade(g, x, 0, s.t(), top, bottom, new Color(0xdff0df), label ? "copy" : null);
        break;
      }
    }
  }

  private static void shade(Graphics2D g, DoubleUnaryOperator x, double from, double to, int top, int bottom,
      Color color, String label) {
    int a = (int) x.applyAsDouble(from);
    int b = (int) x.applyAsDouble(to);
    g.setColor(color);
    g.fillRect(a, top, Math.max(1, b - a), bottom - top);
    if (label != null) {
      g.setColor(Color.DARK_GRAY);
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
      g.drawString(label, a + 4, top + 16);
    }
  }

  private static void axes(Graphics2D g, String title, int x0, int x1, int top, int bottom, double max, double tMax,
      DoubleUnaryOperator x) {
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
    g.setColor(Color.BLACK);
    g.drawString(title, x0, top - 8);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    for (int i = 0; i <= 4; i++) {
      double v = max * i / 4;
      int y = (int) (bottom - v / max * (bottom - top));
      g.setColor(new Color(0xcccccc));
      g.drawLine(x0, y, x1, y);
      g.setColor(Color.DARK_GRAY);
      String text = v >= 1000 ? String.format(Locale.ROOT, "%,.0f", v) : String.format(Locale.ROOT, "%.0f", v);
      g.drawString(text, x0 - 10 - g.getFontMetrics().stringWidth(text), y + 5);
    }
    for (int t = 0; t <= tMax; t += 2) {
      int xx = (int) x.applyAsDouble(t);
      g.setColor(Color.DARK_GRAY);
      g.drawLine(xx, bottom, xx, bottom + 5);
      g.drawString(String.valueOf(t), xx - 6, bottom + 20);
    }
    g.setColor(Color.BLACK);
    g.drawLine(x0, top, x0, bottom);
    g.drawLine(x0, bottom, x1, bottom);
  }

  private static void line(Graphics2D g, List<Sample> samples, ToDoubleFunction<Sample> value, DoubleUnaryOperator x,
      DoubleUnaryOperator y, Color color, float width) {
    List<double[]> points = new ArrayList<>();
    for (Sample s : samples) {
      points.add(new double[] {s.t(), value.applyAsDouble(s)});
    }
    polyline(g, points, 1, x, y, color, width, false);
  }

  private static void polyline(Graphics2D g, List<double[]> points, int column, DoubleUnaryOperator x,
      DoubleUnaryOperator y, Color color, float width, boolean dashed) {
    g.setColor(color);
    g.setStroke(dashed ? new BasicStroke(width, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10, new float[] {6, 5}, 0)
        : new BasicStroke(width, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
    for (int i = 1; i < points.size(); i++) {
      double[] a = points.get(i - 1);
      double[] b = points.get(i);
      g.drawLine((int) x.applyAsDouble(a[0]), (int) y.applyAsDouble(a[column]), (int) x.applyAsDouble(b[0]),
          (int) y.applyAsDouble(b[column]));
    }
    g.setStroke(new BasicStroke(1));
  }

  private static void legend(Graphics2D g, int x, int y) {
    Object[][] items = {{new Color(0xd62728), "lag (ms)"}, {new Color(0x1f77b4), "rows/s applied by the stream"},
        {new Color(0x2ca02c), "rows/s of the initial copy (kv2pg_copy_rows_total)"},
        {new Color(0x7f7f7f), "writes/s made by the application"}};
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 14));
    for (Object[] item : items) {
      g.setColor((Color) item[0]);
      g.fillRect(x, y - 13, 26, 6);
      g.setColor(Color.BLACK);
      g.drawString((String) item[1], x + 32, y - 4);
      x += 46 + g.getFontMetrics().stringWidth((String) item[1]);
    }
  }

  /** A round axis maximum at or above {@code v}: 1, 2 or 5 times a power of ten. */
  private static double niceMax(double v) {
    if (v <= 0) {
      return 1;
    }
    double p = Math.pow(10, Math.floor(Math.log10(v)));
    for (double m : new double[] {1, 2, 5, 10}) {
      if (m * p >= v) {
        return m * p;
      }
    }
    return 10 * p;
  }
}
