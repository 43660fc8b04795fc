package io.kv2pg.internal.engine;

import io.kv2pg.ReplicationException;
import io.kv2pg.internal.change.ChangeBatch;
import io.kv2pg.internal.change.ChangeRouter;
import io.kv2pg.internal.change.CopiedRange;
import io.kv2pg.internal.change.Route;
import io.kv2pg.internal.change.RoutedLog;
import io.kv2pg.internal.postgres.CheckpointStore.CopyProgress;
import io.kv2pg.internal.rocksdb.DroppedFamilyCheck;
import io.kv2pg.internal.rocksdb.WalSource;
import io.kv2pg.internal.table.MappingPlan;
import java.time.Duration;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDBException;

/**
 * The reader thread: tails the WAL from the checkpoint, routes each write batch to the mappings
 * that read it, and puts the batches in the queue, which bounds its memory. Ends when the queue
 * is aborted, when a stop has drained, or on an error, which it hands to the writer through the
 * queue.
 *
 * <p>Concurrency: owns its thread and the WAL decoder; shares only the queue and the stop signal.
 */
final class LogReader {
  private static final long FAMILY_CHECK_NANOS = TimeUnit.SECONDS.toNanos(10);
  /** How long the writer waits for the reader to end; it ends within a poll once the queue is aborted. */
  private static final Duration JOIN_TIMEOUT = Duration.ofSeconds(30);

  private final String name;
  private final WalSource source;
  private final List<MappingPlan> mappings;
  private final List<Route> routes;
  private final ChangeQueue queue;
  private final StopSignal stop;
  private final Progress progress;
  private Thread thread;

  /** @param routes the mappings' routes, by position: the changes it queues refer to them */
  LogReader(String name, WalSource source, List<MappingPlan> mappings, List<Route> routes, ChangeQueue queue,
      StopSignal stop, Progress progress) {
    this.name = name;
    this.source = source;
    this.mappings = mappings;
    this.routes = routes;
    this.queue = queue;
    this.stop = stop;
    this.progress = progress;
  }

  /** Returns the check that the mapped column families still exist. */
  DroppedFamilyCheck droppedFamilyCheck() {
    Map<String, String> mappingByTree = new HashMap<>();
    mappings.forEach(mapping -> mappingByTree.putIfAbsent(mapping.treeName(), mapping.name()));
    return new DroppedFamilyCheck(source.database(), mappingByTree, FAMILY_CHECK_NANOS);
  }

  /**
   * Starts reading after {@code appliedSequence}; the mappings being copied skip what their copy
   * has not reached yet.
   */
  void start(long appliedSequence, Map<Integer, CopyProgress> copies) {
    Map<Route, CopiedRange> copiedRanges = new HashMap<>();
    copies.forEach((position, start) ->
        copiedRanges.put(routes.get(position), new CopiedRange(start.snapshotSequence(), start.resumeAfter())));
    Map<Integer, ColumnFamilyHandle> families = new HashMap<>();
    mappings.forEach(mapping -> families.put(mapping.columnFamily().getID(), mapping.columnFamily()));
    ChangeRouter router = new ChangeRouter(routes, copiedRanges, (familyId, key) -> {
      try {
        return source.database().get(families.get(familyId), key);
      } catch (RocksDBException e) {
        throw new ReplicationException(ReplicationException.Kind.STORE, "RocksDB failed to read back the"
            + " merged value of key " + HexFormat.of().formatHex(key) + ": " + e.getMessage(), e);
      }
    });
    DroppedFamilyCheck droppedFamilies = droppedFamilyCheck();
    thread = new Thread(() -> run(router, droppedFamilies, appliedSequence + 1), "kv2pg-" + name + "-reader");
    thread.setDaemon(true);
    thread.start();
  }

  private void run(ChangeRouter router, DroppedFamilyCheck droppedFamilies, long from) {
    // The log's decoder must be created on the thread that uses it.
    try (RoutedLog log = new RoutedLog(source, router, from)) {
      while (!queue.isAborted()) {
        if (stop.drained(log.nextSequence())) {
          queue.finish();
          return;
        }
        droppedFamilies.maybeCheck();
        ChangeBatch batch = log.poll();
        if (batch == null) {
          continue;
        }
        progress.seen(batch.lastSequence());
        if (!queue.put(batch)) {
          return;
        }
      }
    } catch (ReplicationException e) {
      queue.fail(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      queue.fail(new ReplicationException(ReplicationException.Kind.INTERRUPTED,
          "kv2pg[" + name + "]: the log reader was interrupted", e));
    } catch (Throwable t) {
      queue.fail(new ReplicationException(ReplicationException.Kind.INTERNAL, "Replication '" + name
          + "': the log reader failed unexpectedly: " + t + ". Start the replication again to resume"
          + " after the last commit.", t));
    }
  }

  /**
   * Waits, bounded, for the reader to end after the queue was aborted; the reader holds the WAL
   * iterator, which must be closed before the store is.
   */
  void join() {
    if (thread != null && thread != Thread.currentThread()) {
      Threads.joinUninterruptibly(thread, JOIN_TIMEOUT, name);
    }
  }
}
