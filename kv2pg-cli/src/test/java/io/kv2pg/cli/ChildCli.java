package io.kv2pg.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * The command line run as a real process ({@code java -cp <the tests' class path> io.kv2pg.cli.Main
 * ...}), so that it gets real signals and exits with real exit codes. Its output (stdout and stderr
 * together) is collected; {@link #close()} kills it if it is still alive.
 */
final class ChildCli implements AutoCloseable {
  final Process process;
  private final StringBuilder text = new StringBuilder();
  private final Thread reader;

  private ChildCli(Process process) {
    this.process = process;
    reader = new Thread(() -> {
      try (BufferedReader lines = new BufferedReader(
          new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = lines.readLine()) != null; ) {
          synchronized (text) {
            text.append(line).append('\n');
            text.notifyAll();
          }
        }
      } catch (IOException e) {
        synchronized (text) {
          text.append("(reading the output failed: ").append(e).append(")\n");
        }
      }
    }, "child-cli-output");
    reader.setDaemon(true);
    reader.start();
  }

  /**
   * Starts {@code kv2pg args...} with the extra environment variables {@code env}, and {@code tmp}
   * as its {@code java.io.tmpdir}.
   */
  static ChildCli start(Map<String, String> env, Path tmp, String... args) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> command = new ArrayList<>(List.of(java, "-Xmx512m", "-XX:TieredStopAtLevel=1",
        "-Djava.io.tmpdir=" + tmp, "-cp", System.getProperty("java.class.path"), Main.class.getName()));
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().putAll(env);
    return new ChildCli(builder.start());
  }

  /** The output so far. */
  String output() {
    synchronized (text) {
      return text.toString();
    }
  }

  /** Waits until the output so far satisfies {@code until}; fails after {@code timeout} naming {@code what}. */
  void awaitOutput(Duration timeout, String what, Predicate<String> until) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (text) {
      while (!until.test(text.toString())) {
        long left = deadline - System.nanoTime();
        if (left <= 0 || (!process.isAlive() && !reader.isAlive())) {
          fail("timed out after " + timeout + " waiting for " + what + "; output:\n" + text);
        }
        TimeUnit.NANOSECONDS.timedWait(text, Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
      }
    }
  }

  /** Sends the signal {@code name} ({@code INT}, {@code TERM}) to the process. */
  void signal(String name) throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start();
    assertThat(kill.waitFor(10, TimeUnit.SECONDS)).as("kill -%s ended", name).isTrue();
    assertThat(kill.exitValue()).as("kill -%s %d", name, process.pid()).isZero();
  }

  /**
   * Waits up to {@code timeout} for the process to end and for the rest of its output, and returns
   * its exit code; fails if it is still running.
   */
  int awaitExit(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      fail("the process did not end within " + timeout + "; output:\n" + output());
    }
    reader.join(TimeUnit.SECONDS.toMillis(10));
    return process.exitValue();
  }

  @Override
  public void close() {
    process.destroyForcibly();
  }
}
