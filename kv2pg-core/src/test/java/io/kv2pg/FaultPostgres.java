package io.kv2pg;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

/**
 * A PostgreSQL 15 server of a test's own, started from the installed binaries ({@value #DEFAULT_BIN},
 * or the folder in system property {@code kv2pg.pgbin}) so that the test can kill it with SIGKILL and
 * start it again on the same port and data folder.
 *
 * <p>The data folder lives in a fresh temporary folder; the server listens on 127.0.0.1 only, on a
 * free port, with trust authentication, user {@code postgres}. Run as root (as the tests are on CI),
 * it runs the binaries as the unprivileged user {@code nobody} through {@code setpriv}, since initdb
 * refuses root. The postmaster is a child of this JVM (so that the JVM reaps it); its PID is read
 * from {@code postmaster.pid}. {@code fsync} is off: the faults are process crashes, which leave the
 * kernel's page cache intact, so every commit still survives them.
 *
 * <p>{@link #close()} always ends the server and deletes the folder; a shutdown hook does the same
 * if the JVM exits before the test closes it.
 */
final class FaultPostgres implements AutoCloseable {
  static final String DEFAULT_BIN = "/usr/lib/postgresql/15/bin";
  private static final String UNPRIVILEGED_USER = "nobody";
  private static final Duration WAIT = Duration.ofSeconds(60);

  private final Path bin;
  private final Path dir;
  private final Path data;
  private final Path log;
  private final int port;
  /** The command prefix that runs a binary as the unprivileged user; empty when not root. */
  private final List<String> runAs;
  private final Thread shutdownHook;
  private Process postmaster;
  private int starts;

  private FaultPostgres(Path bin, Path dir, List<String> runAs, int port) {
    this.bin = bin;
    this.dir = dir;
    this.data = dir.resolve("data");
    this.log = dir.resolve("postgres.log");
    this.runAs = runAs;
    this.port = port;
    this.shutdownHook = new Thread(this::closeQuietly, "fault-postgres-shutdown");
  }

  /**
   * Creates a data folder with initdb and starts the server.
   *
   * @throws IllegalStateException naming what is missing when the PostgreSQL 15 binaries are not
   *     installed, or what failed
   */
  static FaultPostgres launch() {
    Path bin = Path.of(System.getProperty("kv2pg.pgbin", DEFAULT_BIN));
    for (String binary : List.of("initdb", "pg_ctl", "postgres")) {
      if (!Files.isExecutable(bin.resolve(binary))) {
        throw new IllegalStateException("FaultPostgres needs the PostgreSQL 15 server binaries, but "
            + bin.resolve(binary) + " is missing: install them (Debian/Ubuntu: apt-get install -y"
            + " postgresql-15) or point -Dkv2pg.pgbin=... at the folder holding initdb, pg_ctl and postgres");
      }
    }
    FaultPostgres server;
    try {
      Path dir = Files.createTempDirectory("kv2pg-faultpg-");
      List<String> runAs = List.of();
      if (isRoot()) {
        int uid = Integer.parseInt(run(List.of("id", "-u", UNPRIVILEGED_USER), null).strip());
        int gid = Integer.parseInt(run(List.of("id", "-g", UNPRIVILEGED_USER), null).strip());
        Files.setAttribute(dir, "unix:gid", gid);
        Files.setAttribute(dir, "unix:uid", uid);
        runAs = List.of("setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups", "--");
      }
      server = new FaultPostgres(bin, dir, runAs, freePort());
    } catch (IOException e) {
      throw new UncheckedIOException("FaultPostgres: cannot prepare the server's folder", e);
    }
    Runtime.getRuntime().addShutdownHook(server.shutdownHook);
    try {
      server.initdb();
      server.start0();
    } catch (RuntimeException | Error e) {
      server.closeQuietly();
      throw e;
    }
    return server;
  }

  /** The JDBC URL of a database on this server, as user {@code postgres}. */
  String jdbcUrl(String database) {
    return "jdbc:postgresql://127.0.0.1:" + port + "/" + database + "?user=postgres";
  }

  int port() {
    return port;
  }

  /** Creates a new database and returns its JDBC URL. */
  String newDatabase(String name) {
    try (Connection connection = DriverManager.getConnection(jdbcUrl("postgres"));
        Statement statement = connection.createStatement()) {
      statement.execute("create database " + name);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot create database " + name + ": " + e.getMessage(), e);
    }
    return jdbcUrl(name);
  }

  /** Whether the postmaster is running. */
  synchronized boolean isRunning() {
    return postmaster != null && postmaster.isAlive();
  }

  /** How many times the server was started, the first start included. */
  synchronized int starts() {
    return starts;
  }

  /** The PID of the running postmaster, as its {@code postmaster.pid} names it. */
  synchronized long postmasterPid() {
    if (!isRunning()) {
      throw new IllegalStateException("the server is not running");
    }
    long pid = pidFileValues().pid;
    if (pid != postmaster.pid()) {
      throw new IllegalStateException("postmaster.pid names PID " + pid + ", but this helper started "
          + postmaster.pid());
    }
    return pid;
  }

  /** Starts the server; it must not be running. Returns once it accepts connections. */
  synchronized void start() {
    if (isRunning()) {
      throw new IllegalStateException("the server is already running (PID " + postmaster.pid() + ")");
    }
    start0();
  }

  /** Kills the server with SIGKILL and starts it again (crash recovery included). */
  synchronized void restart() {
    if (isRunning()) {
      kill9();
    }
    start0();
  }

  /**
   * Kills the postmaster with SIGKILL, then every server process it had started (found by their
   * parent PID before the kill), and waits until they are all gone. Only those PIDs are signalled.
   */
  synchronized void kill9() {
    long pid = postmasterPid();
    ProcessHandle handle = postmaster.toHandle();
    List<ProcessHandle> children = handle.children().toList();
    postmaster.destroyForcibly(); // SIGKILL
    for (ProcessHandle child : children) {
      child.destroyForcibly();
    }
    awaitEnded(pid, children, "kill -9");
  }

  /** Stops the server with {@code pg_ctl stop -m immediate} (no checkpoint: crash recovery at next start). */
  synchronized void stop() {
    if (!isRunning()) {
      return;
    }
    long pid = postmaster.pid();
    List<ProcessHandle> children = postmaster.toHandle().children().toList();
    run(command("pg_ctl", "stop", "-D", data.toString(), "-m", "immediate", "-w", "-t", "60"), dir);
    awaitEnded(pid, children, "pg_ctl stop");
  }

  /** The end of the server's log, for failure messages. */
  String logTail() {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  /** Stops the server (SIGKILL if {@code pg_ctl stop} fails) and deletes its folder. */
  @Override
  public void close() {
    try {
      try {
        stop();
      } finally {
        synchronized (this) {
          if (isRunning()) {
            kill9();
          }
        }
      }
    } finally {
      deleteFolder();
      try {
        Runtime.getRuntime().removeShutdownHook(shutdownHook);
      } catch (IllegalStateException shuttingDown) {
        // called from the hook itself, or while the JVM exits: nothing to remove
      }
    }
  }

  private void closeQuietly() {
    try {
      close();
    } catch (RuntimeException e) {
      System.err.println("FaultPostgres: could not stop the server in " + dir + ": " + e);
    }
  }

  // ------------------------------------------------------------------ internals

  private void initdb() {
    run(command("initdb", "-D", data.toString(), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
        "--locale=C", "--no-instructions"), dir);
  }

  private void start0() {
    List<String> command = command("postgres", "-D", data.toString(),
        "-c", "listen_addresses=127.0.0.1", "-c", "port=" + port,
        "-c", "unix_socket_directories=" + dir, "-c", "fsync=off", "-c", "shared_buffers=32MB",
        "-c", "max_connections=50", "-c", "log_min_messages=warning");
    ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile())
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    try {
      postmaster = builder.start();
    } catch (IOException e) {
      throw new UncheckedIOException("FaultPostgres: cannot run " + command, e);
    }
    starts++;
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (true) {
      if (!postmaster.isAlive()) {
        throw new IllegalStateException("FaultPostgres: the server exited with code " + postmaster.exitValue()
            + " while starting; log:\n" + logTail());
      }
      PidFile file = pidFileValuesOrNull();
      if (file != null && file.pid == postmaster.pid() && file.status.equals("ready")) {
        return;
      }
      if (System.nanoTime() - deadline > 0) {
        postmaster.destroyForcibly();
        throw new IllegalStateException("FaultPostgres: the server was not ready within " + WAIT + "; log:\n"
            + logTail());
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
    }
  }

  private void awaitEnded(long pid, List<ProcessHandle> children, String what) {
    try {
      if (!postmaster.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)) {
        throw new IllegalStateException("FaultPostgres: postmaster " + pid + " still alive after " + what);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the postmaster to end", e);
    }
    long deadline = System.nanoTime() + WAIT.toNanos();
    for (ProcessHandle child : children) {
      while (!ended(child.pid())) {
        if (System.nanoTime() - deadline > 0) {
          throw new IllegalStateException("FaultPostgres: server process " + child.pid() + " still alive after "
              + what);
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
      }
    }
  }

  /** Whether a process is gone or a zombie (dead, waiting for its new parent to reap it). */
  private static boolean ended(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      char state = stat.charAt(stat.lastIndexOf(')') + 2);
      return state == 'Z' || state == 'X';
    } catch (IOException e) {
      return true;
    }
  }

  private record PidFile(long pid, String status) {}

  private PidFile pidFileValues() {
    PidFile file = pidFileValuesOrNull();
    if (file == null) {
      throw new IllegalStateException("FaultPostgres: no readable postmaster.pid in " + data);
    }
    return file;
  }

  /** Line 1 of {@code postmaster.pid} is the PID, line 8 the status ("starting", "ready", "stopping"). */
  private PidFile pidFileValuesOrNull() {
    try {
      List<String> lines = Files.readAllLines(data.resolve("postmaster.pid"), StandardCharsets.UTF_8);
      if (lines.size() < 8) {
        return null;
      }
      return new PidFile(Long.parseLong(lines.get(0).strip()), lines.get(7).strip());
    } catch (IOException | NumberFormatException e) {
      return null;
    }
  }

  private List<String> command(String binary, String... args) {
    List<String> command = new ArrayList<>(runAs);
    command.add(bin.resolve(binary).toString());
    command.addAll(List.of(args));
    return command;
  }

  /** Runs a command to its end and returns its output; fails with the output if it fails. */
  private static String run(List<String> command, Path workingDir) {
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    if (workingDir != null) {
      builder.directory(workingDir.toFile());
    }
    try {
      Process process = builder.start();
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!process.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IllegalStateException("FaultPostgres: " + command + " did not end within " + WAIT);
      }
      if (process.exitValue() != 0) {
        throw new IllegalStateException("FaultPostgres: " + command + " failed with code " + process.exitValue()
            + ":\n" + output);
      }
      return output;
    } catch (IOException e) {
      throw new UncheckedIOException("FaultPostgres: cannot run " + command, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while running " + command, e);
    }
  }

  private static boolean isRoot() throws IOException {
    return ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).intValue() == 0;
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  private void deleteFolder() {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("FaultPostgres: cannot delete " + dir, e);
    }
  }
}
