package io.kv2pg.cli;

import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import sun.misc.Signal;

/**
 * Ctrl-C (SIGINT) and SIGTERM, handled on the command's terms.
 *
 * <p>Why signal handlers ({@code sun.misc.Signal}, in the JDK's {@code jdk.unsupported} module) and
 * not a shutdown hook: a hook runs once the JVM has decided to exit, so it can neither choose the
 * exit code nor let the command's main thread finish; the old hook drained the whole backlog before
 * the JVM could end, and a second Ctrl-C could not cut it short. With a handler:
 *
 * <ul>
 *   <li>While a command runs something it can stop ({@link #whileRunning}), the first signal calls
 *       the command's stopper (a replication stops at its next commit) and records the signal; the
 *       main thread then prints where it stopped and returns {@link #exitCode()}: 130 for SIGINT,
 *       143 for SIGTERM (128 plus the signal's number, as shells report it).
 *   <li>Otherwise, and for any further signal, the process ends at once: {@link System#exit} with
 *       that code, so that shutdown hooks (temporary folders, an embedded PostgreSQL) run; if they
 *       take longer than {@link #HALT_AFTER_MILLIS}, {@link Runtime#halt}. That is safe: every
 *       commit holds its checkpoint, and what was not committed is applied at the next run.
 * </ul>
 *
 * <p>{@code sun.misc.Signal} is the JDK's supported way to do this (JEP 260 keeps it accessible);
 * javac warns that it is internal, which no annotation silences.
 *
 * <p>If the handlers cannot be installed (a runtime without {@code jdk.unsupported}, or a JVM
 * started with {@code -Xrs}), the JVM's default stays: it exits and runs the shutdown hooks.
 *
 * <p>Thread safety: signals arrive on threads of their own (one per signal); every field is
 * volatile or guarded by this object's monitor.
 */
final class Interrupts {
  /** How long shutdown hooks may run after a signal that ends the process before it halts. */
  static final long HALT_AFTER_MILLIS = 3_000;

  private final PrintWriter err;
  private Runnable stopper;
  private String description;
  private String first;
  private int count;
  /** Counted down once the first signal's stopper has returned. */
  private final CountDownLatch stopped = new CountDownLatch(1);

  private Interrupts(PrintWriter err) {
    this.err = err;
  }

  /** Interrupts that never arrive, for running the command line inside another program (tests). */
  static Interrupts none() {
    return new Interrupts(null);
  }

  /** Installs the handlers for SIGINT and SIGTERM; {@code err} is where they say what they do. */
  static Interrupts install(PrintStream err) {
    Interrupts interrupts = new Interrupts(new PrintWriter(new OutputStreamWriter(err, StandardCharsets.UTF_8), true));
    for (String name : new String[] {"INT", "TERM"}) {
      try {
        Signal.handle(new Signal(name), signal -> interrupts.onSignal(signal.getName()));
      } catch (IllegalArgumentException | UnsupportedOperationException | LinkageError e) {
        // The JVM keeps this signal (-Xrs) or has no such API: its default exit stays.
      }
    }
    return interrupts;
  }

  /**
   * Until the returned registration is closed, the first signal runs {@code stopper} (on the
   * signal's thread; it may block until the work has stopped) instead of ending the process.
   *
   * @param description what stops, for the line the signal prints ("stopping sync at the next commit")
   */
  synchronized Registration whileRunning(String description, Runnable stopper) {
    this.stopper = stopper;
    this.description = description;
    return this::clear;
  }

  private synchronized void clear() {
    stopper = null;
    description = null;
  }

  /**
   * Waits until a signal has arrived and the stopper of the command that was running has returned.
   *
   * @throws InterruptedException if the waiting thread is interrupted
   */
  void await() throws InterruptedException {
    stopped.await();
  }

  /** Whether a signal arrived. */
  synchronized boolean received() {
    return first != null;
  }

  /** The exit code for the first signal that arrived: 130 (SIGINT), 143 (SIGTERM); 0 if none did. */
  synchronized int exitCode() {
    return first == null ? Main.OK : exitCode(first);
  }

  /** The first signal's name, as a shell writes it ({@code SIGINT}), or {@code null}. */
  synchronized String signalName() {
    return first == null ? null : "SIG" + first;
  }

  private static int exitCode(String signal) {
    return signal.equals("TERM") ? 128 + 15 : 128 + 2;
  }

  private void onSignal(String signal) {
    Runnable stop;
    String what;
    synchronized (this) {
      count++;
      if (first == null) {
        first = signal;
      }
      stop = count == 1 ? stopper : null;
      what = description;
    }
    if (stop != null) {
      say("SIG" + signal + ": " + what + " (press Ctrl-C again to end at once)");
      try {
        stop.run();
      } finally {
        stopped.countDown();
      }
      return;
    }
    if (count > 1) {
      say("SIG" + signal + " again: ending now, without waiting for the commit in progress. Nothing is lost:"
          + " the next run resumes after the last commit.");
    }
    exit(exitCode(signal));
  }

  private void say(String line) {
    if (err != null) {
      err.println("kv2pg: " + line);
      err.flush();
    }
  }

  /** Ends the process with {@code code}, running the shutdown hooks for a bounded time. */
  private static void exit(int code) {
    Thread halt = new Thread(() -> {
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(HALT_AFTER_MILLIS);
      for (long left; (left = deadline - System.nanoTime()) > 0; ) {
        LockSupport.parkNanos(left);
      }
      Runtime.getRuntime().halt(code);
    }, "kv2pg-halt");
    halt.setDaemon(true);
    halt.start();
    System.exit(code);
  }

  /** Ends a {@link #whileRunning} period. */
  interface Registration extends AutoCloseable {
    @Override
    void close();
  }
}
