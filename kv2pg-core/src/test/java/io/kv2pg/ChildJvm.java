package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A child JVM running a test class's {@code main} on this JVM's class path, with its output (stdout
 * and stderr) collected. {@link #close()} kills it if it is still alive.
 */
final class ChildJvm implements AutoCloseable {
  final Process process;
  private final StringBuilder text = new StringBuilder();
  private final CountDownLatch marked = new CountDownLatch(1);
  private final Thread reader;

  /**
   * Starts {@code main} with {@code args}; {@link #awaitLine} waits for the first output line equal to
   * {@code marker} (null: none).
   */
  static ChildJvm start(Class<?> main, String marker, String... args) throws IOException {
    return start(System.getProperty("java.class.path"), main, marker, args);
  }

  /** Like {@link #start(Class, String, String...)}, without the class path entries that contain {@code left}. */
  static ChildJvm startWithout(String left, Class<?> main, String marker, String... args) throws IOException {
    String classPath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
        .filter(entry -> !entry.contains(left)).collect(Collectors.joining(File.pathSeparator));
    return start(classPath, main, marker, args);
  }

  private static ChildJvm start(String classPath, Class<?> main, String marker, String... args) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> command = new ArrayList<>(List.of(java, "-Xmx256m", "-XX:TieredStopAtLevel=1",
        "-cp", classPath, main.getName()));
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    return new ChildJvm(process, marker, main.getSimpleName());
  }

  private ChildJvm(Process process, String marker, String name) {
    this.process = process;
    reader = new Thread(() -> {
      try (BufferedReader lines = new BufferedReader(
          new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = lines.readLine()) != null; ) {
          synchronized (text) {
            text.append(line).append('\n');
          }
          if (line.equals(marker)) {
            marked.countDown();
          }
        }
      } catch (IOException e) {
        synchronized (text) {
          text.append("(reading the output failed: ").append(e).append(")\n");
        }
      }
    }, "child-jvm-output-" + name);
    reader.setDaemon(true);
    reader.start();
  }

  /** Whether the child printed the marker line within {@code timeout}. */
  boolean awaitLine(long timeout, TimeUnit unit) throws InterruptedException {
    return marked.await(timeout, unit);
  }

  /** The output so far. */
  String output() {
    synchronized (text) {
      return text.toString();
    }
  }

  /**
   * Kills the child with SIGKILL, asserts that it ended within {@code wait} with the exit code of a
   * SIGKILL, and waits (up to {@code wait}) for the rest of its output.
   */
  void kill(Duration wait, String where) throws InterruptedException {
    process.destroyForcibly(); // SIGKILL
    assertThat(process.waitFor(wait.toSeconds(), TimeUnit.SECONDS)).as("child ended after SIGKILL").isTrue();
    assertThat(process.exitValue()).as("exit code of the killed child (%s)", where).isEqualTo(128 + 9);
    reader.join(wait.toMillis());
  }

  @Override
  public void close() {
    process.destroyForcibly();
  }

  /**
   * Waits until no Postgres session with {@code applicationName} is left in the database: a killed
   * child's session may still commit what it sent, and holds the replication's lock.
   */
  static void awaitSessionGone(String url, String applicationName, Duration wait, String where) {
    String sql = "select count(*) from pg_stat_activity where datname = current_database()"
        + " and application_name = '" + applicationName + "'";
    Await.condition(wait, "the killed child's Postgres session has ended (" + where + ")",
        () -> ((Number) TestPostgres.query(url, sql).get(0).get(0)).longValue() == 0);
  }
}
