package io.kv2pg.cli;

import io.kv2pg.ReplicationState;
import io.kv2pg.ReplicationStatus;
import io.kv2pg.RunningReplication;
import java.io.PrintWriter;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayDeque;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Shows a running replication's progress: on a terminal, one line redrawn in place (a progress bar
 * during the initial copy, then rows per second and lag); otherwise a plain log line every few
 * seconds. Runs on a daemon thread of its own until {@link #close()}.
 */
final class ProgressView implements AutoCloseable {
  private static final long TERMINAL_TICK = TimeUnit.MILLISECONDS.toNanos(200);
  private static final long PLAIN_EVERY = TimeUnit.SECONDS.toNanos(2);
  private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss");

  private final PrintWriter out;
  private final boolean terminal;
  private final RunningReplication running;
  private final LongSupplier copyTotal;
  private final Supplier<String> extra;
  private final Thread thread;
  private final int width;
  private volatile boolean closed;

  /** Rows of the initial copy written but not yet committed; see {@link #copyRowsInFlight}. */
  private LongSupplier copyInFlight = () -> 0;
  /** Where the copy's exact row count is recorded, or {@code null}; see {@link #copies}. */
  private CopySummary copies;
  /** The copy's progress as last shown: it never goes back. */
  private long copyShown;

  private final ArrayDeque<long[]> samples = new ArrayDeque<>(); // {nanos, rowsApplied}
  private ReplicationState lastState;
  private long copyStarted;
  private long copyStartRows;
  private long nextPlainLine;

  /**
   * @param copyTotal estimated rows the initial copy writes (0 if unknown)
   * @param extra more text for the line, or {@code null}
   */
  ProgressView(PrintWriter out, boolean terminal, RunningReplication running, LongSupplier copyTotal,
      Supplier<String> extra) {
    this.out = out;
    this.terminal = terminal;
    this.running = running;
    this.copyTotal = copyTotal;
    this.extra = extra;
    this.width = terminalWidth();
    this.thread = new Thread(this::loop, "kv2pg-progress");
    thread.setDaemon(true);
  }

  /**
   * Counts the rows of the copy's current chunk as Postgres receives them, so that the bar moves
   * within a chunk (up to 50,000 rows) instead of jumping from commit to commit.
   */
  ProgressView copyRowsInFlight(LongSupplier rows) {
    this.copyInFlight = rows;
    return this;
  }

  /** Reports the rows the copy wrote, as recorded with it, when it ends. */
  ProgressView copies(CopySummary summary) {
    this.copies = summary;
    return this;
  }

  ProgressView start() {
    thread.start();
    return this;
  }

  private void loop() {
    nextPlainLine = System.nanoTime() + PLAIN_EVERY;
    while (!closed) {
      tick(false);
      LockSupport.parkNanos(TERMINAL_TICK);
    }
  }

  private synchronized void tick(boolean last) {
    long now = System.nanoTime();
    ReplicationStatus status = running.status();
    samples.addLast(new long[] {now, status.rowsApplied()});
    while (samples.size() > 2 && now - samples.peekFirst()[0] > TimeUnit.SECONDS.toNanos(2)) {
      samples.removeFirst();
    }
    ReplicationState state = status.state();
    if (state != lastState) {
      if (state == ReplicationState.COPYING) {
        copyStarted = now;
        copyStartRows = status.rowsApplied();
      } else if (lastState == ReplicationState.COPYING) {
        double seconds = (now - copyStarted) / 1e9;
        if (copies != null) {
          event(String.format(Locale.ROOT, "initial copy done in %.1f s: %,d rows, one per entry of the store"
              + " at the copy's snapshot", seconds, copies.rows()));
        } else {
          // Sampled after the state changed, so the count may include the first streamed rows.
          event(String.format(Locale.ROOT, "initial copy done in %.1f s (%,d rows applied so far)",
              seconds, status.rowsApplied() - copyStartRows));
        }
      }
      if (state == ReplicationState.STREAMING) {
        samples.clear(); // Rows per second of the stream, not of the copy before it.
        samples.addLast(new long[] {now, status.rowsApplied()});
        event("streaming the store's write-ahead log");
      }
      lastState = state;
    }
    String line = describe(status, now);
    if (terminal) {
      if (line.length() >= width) {
        line = line.substring(0, width - 4) + "...";
      }
      out.print("\r" + line + "\033[K");
      out.flush();
      if (last) {
        out.println();
      }
    } else if (last || now >= nextPlainLine) {
      out.println(LocalTime.now().truncatedTo(ChronoUnit.SECONDS).format(TIME) + " " + line);
      nextPlainLine = now + PLAIN_EVERY;
    }
  }

  private void event(String text) {
    if (terminal) {
      out.print("\r\033[K");
    }
    out.println(LocalTime.now().truncatedTo(ChronoUnit.SECONDS).format(TIME) + " " + text);
  }

  private String describe(ReplicationStatus status, long now) {
    String more = (extra == null ? "" : " | " + extra.get())
        + (status.stalled() ? " | STALLED" : "")
        + status.waitingFor().map(why -> " | waiting: " + why).orElse("");
    switch (status.state()) {
      case STARTING:
        return "starting: connecting to Postgres, preparing tables" + more;
      case COPYING: {
        long total = copyTotal.getAsLong();
        long rows = status.rowsApplied() + copyInFlight.getAsLong();
        if (total > 0) {
          rows = Math.min(rows, total);
        }
        rows = copyShown = Math.max(copyShown, rows);
        if (total <= 0) {
          return String.format(Locale.ROOT, "initial copy: %,d rows", rows)
              + status.copyProgress().map(copy -> " (mapping " + copy.mapping() + ")").orElse("") + more;
        }
        double fraction = Math.min(0.999, rows / (double) total);
        String count = String.format(Locale.ROOT, "%,d/~%,d rows", rows, total)
            + status.copyProgress().map(copy -> " (mapping " + copy.mapping() + ")").orElse("");
        return "copying " + bar(fraction) + String.format(Locale.ROOT, " %3d%% ", (int) (fraction * 100))
            + count + more;
      }
      case STREAMING:
        return String.format(Locale.ROOT, "streaming %,6d rows/s | lag %,5d ms | applied seq %,d",
            rowsPerSecond(), status.lag().toMillis(), status.appliedSequence()) + more;
      case STOPPED:
        return String.format(Locale.ROOT, "stopped at sequence %,d (%,d rows)", status.appliedSequence(),
            status.rowsApplied()) + more;
      case FAILED:
      default:
        return "FAILED: " + status.failure().map(Throwable::getMessage).map(m -> m.lines().findFirst().orElse(m))
            .orElse("unknown error");
    }
  }

  private long rowsPerSecond() {
    if (samples.size() < 2) {
      return 0;
    }
    long[] first = samples.peekFirst();
    long[] last = samples.peekLast();
    long nanos = last[0] - first[0];
    return nanos <= 0 ? 0 : Math.round((last[1] - first[1]) * 1e9 / nanos);
  }

  /** The terminal's width from COLUMNS when the shell exports it, else 80. */
  private static int terminalWidth() {
    try {
      String columns = System.getenv("COLUMNS");
      int width = columns == null ? 80 : Integer.parseInt(columns.trim());
      return width < 20 ? 80 : width;
    } catch (NumberFormatException e) {
      return 80;
    }
  }

  private static String bar(double fraction) {
    int width = 24;
    int filled = (int) Math.round(fraction * width);
    return "[" + "#".repeat(filled) + ".".repeat(width - filled) + "]";
  }

  /** Stops the display after one last line. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    LockSupport.unpark(thread);
    try {
      thread.join(TimeUnit.SECONDS.toMillis(5));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    tick(true);
  }
}
