package io.kv2pg.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * CPU time used by this JVM and by the PostgreSQL server (postmaster, its live children and the
 * children it reaped), when the server runs on this machine; read from {@code /proc}. The server's
 * time is also split by process role (client backends, autovacuum, WAL writer, checkpointer…).
 */
final class CpuMeter {
  private static final double TICK_SECONDS = 1.0 / 100; // USER_HZ is 100 on Linux
  private final long postmaster;

  /** What the JVM's own threads that are not Java threads are called, by their name's start. */
  private static final String[][] NATIVE_ROLES = {
      {"GC", "GC Thread", "G1 ", "VM Thread"},
      {"JIT", "C1 CompilerThre", "C2 CompilerThre"},
      {"RocksDB background", "rocksdb:"}};
  /** The JVM's CPU that no live thread's time explains: threads that ended between two samples. */
  static final String EXITED_THREADS = "exited threads";

  /**
   * CPU seconds so far: the JVM's, the server's ({@code NaN} if unknown), per server process, per
   * live Java thread, and per live native thread of the JVM (garbage collector, JIT compiler,
   * RocksDB's flushes and compactions; from {@code /proc/self/task}).
   */
  record Sample(double jvm, double server, Map<Long, Process> processes, Map<Long, Process> threads,
      Map<Long, Process> nativeThreads) {}

  /** One server process: its role and CPU seconds. */
  record Process(String role, double seconds) {}

  private CpuMeter(long postmaster) {
    this.postmaster = postmaster;
  }

  static CpuMeter of(Pg pg) {
    long pid = -1;
    try (Connection connection = pg.connect(); Statement statement = connection.createStatement();
        ResultSet rows = statement.executeQuery("select pg_backend_pid()")) {
      rows.next();
      long backend = rows.getLong(1);
      pid = ProcessHandle.of(backend).flatMap(ProcessHandle::parent).map(ProcessHandle::pid).orElse(-1L);
    } catch (SQLException | RuntimeException e) {
      // The server is elsewhere: its CPU is not measured.
    }
    return new CpuMeter(pid);
  }

  Sample sample() {
    double jvm = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime() / 1e9;
    Map<Long, Process> threads = new HashMap<>();
    java.lang.management.ThreadMXBean bean = ManagementFactory.getThreadMXBean();
    for (java.lang.management.ThreadInfo info : bean.getThreadInfo(bean.getAllThreadIds())) {
      if (info != null) {
        long nanos = bean.getThreadCpuTime(info.getThreadId());
        if (nanos >= 0) {
          threads.put(info.getThreadId(), new Process(threadRole(info.getThreadName()), nanos / 1e9));
        }
      }
    }
    Map<Long, Process> nativeThreads = nativeThreads();
    if (postmaster <= 0) {
      return new Sample(jvm, Double.NaN, Map.of(), threads, nativeThreads);
    }
    long[] own = ticks(postmaster, true);
    if (own == null) {
      return new Sample(jvm, Double.NaN, Map.of(), threads, nativeThreads);
    }
    Map<Long, Process> processes = new HashMap<>();
    // The postmaster's own time plus what its exited children used.
    double total = own[0] * TICK_SECONDS;
    processes.put(postmaster, new Process("postmaster+exited", total));
    for (ProcessHandle child : ProcessHandle.of(postmaster).map(p -> p.descendants().toList())
        .orElse(java.util.List.of())) {
      long[] t = ticks(child.pid(), false);
      if (t != null) {
        double seconds = t[0] * TICK_SECONDS;
        total += seconds;
        processes.put(child.pid(), new Process(role(child.pid()), seconds));
      }
    }
    return new Sample(jvm, total, processes, threads, nativeThreads);
  }

  /** The JVM's native threads with a known role, by task id; empty where there is no /proc. */
  private static Map<Long, Process> nativeThreads() {
    Map<Long, Process> found = new HashMap<>();
    try (java.util.stream.Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
      for (Path task : (Iterable<Path>) tasks::iterator) {
        String stat;
        try {
          stat = Files.readString(task.resolve("stat"));
        } catch (IOException ended) {
          continue;
        }
        String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        String role = nativeRole(name);
        if (role != null) {
          found.put(Long.parseLong(task.getFileName().toString()), new Process(role, ticks(stat, false) * TICK_SECONDS));
        }
      }
    } catch (IOException | RuntimeException e) {
      return Map.of(); // Not Linux: the native threads' time stays in the rest.
    }
    return found;
  }

  private static String nativeRole(String threadName) {
    for (String[] role : NATIVE_ROLES) {
      for (int i = 1; i < role.length; i++) {
        if (threadName.startsWith(role[i])) {
          return role[0];
        }
      }
    }
    return null;
  }

  /** Returns this JVM's CPU seconds between two samples, per thread role. */
  static Map<String, Double> jvmByRole(Sample before, Sample after) {
    Map<String, Double> roles = byRole(before.threads(), after.threads());
    byRole(before.nativeThreads(), after.nativeThreads()).forEach((role, seconds) -> roles.merge(role, seconds,
        Double::sum));
    double threads = roles.values().stream().mapToDouble(Double::doubleValue).sum();
    double rest = after.jvm() - before.jvm() - threads;
    if (rest > 0.005) {
      roles.put(EXITED_THREADS, rest);
    }
    return roles;
  }

  private static String threadRole(String name) {
    if (name.startsWith("kv2pg-")) {
      for (String role : new String[] {"copy-reader", "writer", "reader"}) {
        if (name.endsWith("-" + role)) {
          return "kv2pg " + role;
        }
      }
      return "kv2pg other";
    }
    if (name.startsWith("app-writer-")) {
      return "application writers";
    }
    return name.startsWith("crate-style") || name.startsWith("lag-poller") || name.equals("main") ? name : "other threads";
  }

  /** Returns the server's CPU seconds between two samples, per role, largest first. */
  static Map<String, Double> byRole(Sample before, Sample after) {
    return byRole(before.processes(), after.processes());
  }

  private static Map<String, Double> byRole(Map<Long, Process> before, Map<Long, Process> after) {
    Map<String, Double> roles = new TreeMap<>();
    after.forEach((pid, process) -> {
      Process earlier = before.get(pid);
      double used = process.seconds() - (earlier == null ? 0 : earlier.seconds());
      if (used > 0) {
        roles.merge(process.role(), used, Double::sum);
      }
    });
    return roles;
  }

  private static String role(long pid) {
    try {
      String title = new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline")),
          StandardCharsets.UTF_8).replace('\0', ' ').trim();
      if (!title.startsWith("postgres: ")) {
        return "other";
      }
      String rest = title.substring("postgres: ".length());
      for (String role : new String[] {"autovacuum", "walwriter", "checkpointer", "background writer",
          "stats collector", "logical replication", "walsender"}) {
        if (rest.startsWith(role)) {
          return role;
        }
      }
      return "client backends";
    } catch (IOException | RuntimeException e) {
      return "other";
    }
  }

  private static long[] ticks(long pid, boolean withChildren) {
    try {
      return new long[] {ticks(Files.readString(Path.of("/proc", Long.toString(pid), "stat")), withChildren)};
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** Returns the CPU ticks in a {@code /proc/.../stat} line: user and system, and its reaped children's. */
  private static long ticks(String stat, boolean withChildren) {
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    // Fields after the name: state(0) ... utime(11) stime(12) cutime(13) cstime(14)
    long t = Long.parseLong(f[11]) + Long.parseLong(f[12]);
    if (withChildren) {
      t += Long.parseLong(f[13]) + Long.parseLong(f[14]);
    }
    return t;
  }
}
