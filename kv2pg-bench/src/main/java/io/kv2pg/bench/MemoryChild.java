package io.kv2pg.bench;

import com.sun.management.GarbageCollectionNotificationInfo;
import io.kv2pg.Replication;
import io.kv2pg.RunningReplication;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.MemoryUsage;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;

/**
 * The child JVM of {@link MemoryScenario}: runs kv2pg's initial copy of the store in {@code
 * args[0]} into table {@code args[2]} of {@code args[1]} under replication name {@code args[3]},
 * and prints one {@code MEMORY key=value…} line.
 */
public final class MemoryChild {
  private MemoryChild() {}

  public static void main(String[] args) throws Exception {
    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    AtomicLong peakUsed = new AtomicLong();
    AtomicLong peakAfterGc = new AtomicLong();
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      ((NotificationEmitter) gc).addNotificationListener((notification, handback) -> {
        if (GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(notification.getType())) {
          GarbageCollectionNotificationInfo info =
              GarbageCollectionNotificationInfo.from((CompositeData) notification.getUserData());
          long after = info.getGcInfo().getMemoryUsageAfterGc().values().stream()
              .mapToLong(MemoryUsage::getUsed).sum();
          peakAfterGc.accumulateAndGet(after, Math::max);
        }
      }, null, null);
    }
    Thread sampler = new Thread(() -> {
      while (true) {
        peakUsed.accumulateAndGet(memory.getHeapMemoryUsage().getUsed(), Math::max);
        LockSupport.parkNanos(2_000_000);
      }
    }, "heap-sampler");
    sampler.setDaemon(true);
    sampler.start();

    boolean ok;
    double seconds;
    try (Store store = new Store(Path.of(args[0]))) {
      long start = System.nanoTime();
      RunningReplication running = Replication.builder().postgres(args[1]).source(store.db).name(args[3])
          .tree(Rows.Kind.NARROW.mapping(store.family, args[2])).build().start();
      try {
        ok = running.awaitCaughtUp(Duration.ofMinutes(30));
        seconds = (System.nanoTime() - start) / 1e9;
        if (!ok) {
          System.out.println("status: " + running.status());
        }
      } finally {
        running.close();
      }
    }
    peakUsed.accumulateAndGet(memory.getHeapMemoryUsage().getUsed(), Math::max);
    long gcCount = 0;
    long gcMillis = 0;
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      gcCount += Math.max(0, gc.getCollectionCount());
      gcMillis += Math.max(0, gc.getCollectionTime());
    }
    System.out.println(String.format(Locale.ROOT,
        "MEMORY ok=%s seconds=%.2f peakUsedMiB=%.1f peakAfterGcMiB=%.1f maxHeapMiB=%.1f gcCount=%d gcMillis=%d",
        ok, seconds, peakUsed.get() / 1048576.0, peakAfterGc.get() / 1048576.0,
        memory.getHeapMemoryUsage().getMax() / 1048576.0, gcCount, gcMillis));
    System.out.flush();
    System.exit(ok ? 0 : 1);
  }
}
