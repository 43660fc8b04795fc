package io.kv2pg;

import io.kv2pg.internal.change.Change;
import io.kv2pg.internal.change.ChangeBatch;
import io.kv2pg.internal.change.ChangeRouter;
import io.kv2pg.internal.change.KeyRanges;
import io.kv2pg.internal.change.Route;
import io.kv2pg.internal.change.RoutedLog;
import io.kv2pg.internal.postgres.CheckpointStore;
import io.kv2pg.internal.postgres.SqlStates;
import io.kv2pg.internal.rocksdb.PrimaryWalSource;
import io.kv2pg.internal.rocksdb.SnapshotScan;
import io.kv2pg.internal.rocksdb.WalSource;
import io.kv2pg.internal.table.DeclaredMappingPlan;
import io.kv2pg.internal.table.DeclaredTableWriter;
import io.kv2pg.internal.table.MappingPlan;
import io.kv2pg.internal.verify.TableVerifier;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.rocksdb.Snapshot;

/**
 * Compares a replication's declared tables with the store: every entry of every declared mapping,
 * read from a RocksDB snapshot, against its table, both streamed in key order with bounded memory.
 *
 * <p>Safe while the replication runs: it reads the table and the replication's checkpoint in one
 * Postgres snapshot, then takes the store snapshot, and leaves out the keys the store changed
 * between the checkpoint and its snapshot (read from the write-ahead log), since the replication
 * may not have applied those yet. Statement mappings cannot be verified (kv2pg does not know their
 * tables) and are left out. Immutable and thread-safe; each {@link #run()} opens its own
 * connection.
 */
public final class Verification {
  private static final int DEFAULT_SAMPLES = 5;
  private static final int CHUNK = 5_000;

  private final Replication replication;
  private final int maxSamples;
  private final boolean followPrimary;

  private Verification(Replication replication, int maxSamples, boolean followPrimary) {
    this.replication = replication;
    this.maxSamples = maxSamples;
    this.followPrimary = followPrimary;
  }

  /**
   * Returns a verification of the replication's declared tables.
   *
   * @throws IllegalArgumentException if the replication has no declared table
   */
  public static Verification of(Replication replication) {
    if (replication.trees().stream().noneMatch(TreeMapping::isDeclaredTable)) {
      throw new IllegalArgumentException("replication '" + replication.name()
          + "' has no declared table to verify: verification needs TreeMapping.Builder.table(...)");
    }
    return new Verification(replication, DEFAULT_SAMPLES, false);
  }

  /** Returns a verification that keeps up to {@code maxSamples} samples per table (default 5). */
  public Verification withMaxSamples(int maxSamples) {
    if (maxSamples < 0) {
      throw new IllegalArgumentException("maxSamples must not be negative but was " + maxSamples);
    }
    return new Verification(replication, maxSamples, followPrimary);
  }

  /**
   * Returns a verification for a replication whose source is a RocksDB secondary instance ({@code
   * RocksDB.openAsSecondary}) that follows a primary another process writes: after reading the
   * replication's checkpoint, each run calls {@code tryCatchUpWithPrimary()} before reading the
   * store, so that what it reads holds every write the checkpoint covers. (A secondary cannot take
   * snapshots: the run reads the state of that catch-up, which stays fixed while it runs.)
   */
  public Verification followingPrimary() {
    return new Verification(replication, maxSamples, true);
  }

  /**
   * Runs the comparison.
   *
   * @throws ReplicationException if Postgres or the store cannot be read
   */
  public VerificationReport run() {
    WalSource source = replication.openSource();
    try (source; Connection connection = replication.postgres().open()) {
      connection.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
      try {
        return run(connection, source);
      } finally {
        connection.rollback();
      }
    } catch (SQLException e) {
      throw new ReplicationException(ReplicationException.Kind.POSTGRES, "Verification of replication '" + replication.name()
          + "' failed: " + SqlStates.describe(e), e);
    }
  }

  private VerificationReport run(Connection connection, WalSource source) throws SQLException {
    OptionalLong applied = appliedSequence(connection);
    if (followPrimary || !(source instanceof PrimaryWalSource)) {
      try {
        if (followPrimary) {
          source.database().tryCatchUpWithPrimary();
        } else {
          source.refresh(); // A followed store: up to the checkpoint at least, before the snapshot.
        }
      } catch (org.rocksdb.RocksDBException e) {
        throw new ReplicationException(ReplicationException.Kind.STORE, "Verification of replication '" + replication.name()
            + "' could not catch up with the store's primary: " + e.getMessage(), e);
      }
    }
    List<MappingPlan> plans = replication.plans(source);
    List<Route> routes = MappingPlan.routes(plans);
    // A secondary instance cannot take snapshots; its reads show the state of its last catch-up,
    // which stays fixed during the run since nothing here catches up again.
    Snapshot snapshot = followPrimary ? null : source.snapshot();
    try {
      long storeSequence = snapshot != null ? snapshot.getSequenceNumber()
          : source.database().getLatestSequenceNumber();
      Map<Integer, Predicate<byte[]>> changed = applied.isPresent() && applied.getAsLong() < storeSequence
          ? changedBetween(source, applied.getAsLong(), storeSequence)
          : Map.of();
      List<VerificationReport.TableResult> results = new ArrayList<>();
      for (int i = 0; i < plans.size(); i++) {
        if (!(plans.get(i) instanceof DeclaredMappingPlan mapping)) {
          continue;
        }
        DeclaredTableWriter writer = mapping.writer(i);
        if (!tableExists(connection, writer)) {
          throw new ReplicationException(ReplicationException.Kind.CONFIGURATION, "Table " + writer.table().displayName() + " of mapping '"
              + mapping.name() + "' does not exist: start the replication to create and fill it.", null);
        }
        TableVerifier.Counts counts;
        try (SnapshotScan scan = new SnapshotScan(source.database(), mapping.columnFamily(), snapshot,
            mapping.prefix(), null)) {
          counts = new TableVerifier(writer, mapping.prefix(), maxSamples)
              .compare(connection, entries(scan, routes.get(i), storeSequence), changed.getOrDefault(i, key -> false));
        }
        results.add(new VerificationReport.TableResult(mapping.name(), writer.table().displayName(),
            counts.storeRows(), counts.tableRows(), counts.missing(), counts.extra(),
            counts.different(), counts.inFlight(), counts.samples()));
      }
      return new VerificationReport(storeSequence, applied, results);
    } finally {
      if (snapshot != null) {
        source.database().releaseSnapshot(snapshot);
        snapshot.close();
      }
    }
  }

  /** The checkpoint, read in the run's snapshot; empty when kv2pg's tables do not exist yet. */
  private OptionalLong appliedSequence(Connection connection) throws SQLException {
    return CheckpointStore.records(connection, replication.name()).stream()
        .map(ReplicationRecord::appliedSequence)
        .findFirst()
        .orElse(OptionalLong.empty());
  }

  private static boolean tableExists(Connection connection, DeclaredTableWriter writer) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement("select to_regclass(?) is not null")) {
      statement.setString(1, writer.table().qualifiedName());
      try (ResultSet rows = statement.executeQuery()) {
        rows.next();
        return rows.getBoolean(1);
      }
    }
  }

  /** Returns, per mapping position, the keys that writes in (from, to] touched. */
  private Map<Integer, Predicate<byte[]>> changedBetween(WalSource source, long from, long to) {
    List<Route> routes = MappingPlan.routes(replication.plans(source));
    ChangeRouter router = new ChangeRouter(routes, Map.of(), (family, key) -> new byte[0]);
    Map<Integer, Set<ByteBuffer>> keys = new HashMap<>();
    Map<Integer, List<Change>> ranges = new HashMap<>();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    try (RoutedLog log = new RoutedLog(source, router, from + 1)) {
      while (log.nextSequence() <= to) {
        ChangeBatch changes = log.poll();
        if (changes == null) {
          if (System.nanoTime() > deadline) {
            throw new ReplicationException(ReplicationException.Kind.STORE, "Verification could not read the"
                + " write-ahead log up to sequence " + to + "; try again.", null);
          }
          continue;
        }
        for (Change change : changes.changes()) {
          if (change.isRangeDelete()) {
            ranges.computeIfAbsent(change.route().position(), m -> new ArrayList<>()).add(change);
          } else {
            keys.computeIfAbsent(change.route().position(), m -> new HashSet<>()).add(ByteBuffer.wrap(change.key()));
          }
        }
      }
    }
    Map<Integer, Predicate<byte[]>> changed = new HashMap<>();
    for (int i = 0; i < routes.size(); i++) {
      Set<ByteBuffer> touched = keys.getOrDefault(i, Set.of());
      List<Change> removed = ranges.getOrDefault(i, List.of());
      changed.put(i, key -> touched.contains(ByteBuffer.wrap(key))
          || removed.stream().anyMatch(range -> KeyRanges.contains(range.key(), range.rangeEnd(), key)));
    }
    return changed;
  }

  private static Iterator<Change> entries(SnapshotScan scan, Route route, long sequence) {
    return new Iterator<>() {
      private List<SnapshotScan.Entry> chunk = List.of();
      private int next;

      @Override
      public boolean hasNext() {
        if (next < chunk.size()) {
          return true;
        }
        chunk = scan.next(CHUNK, 8L << 20);
        next = 0;
        return !chunk.isEmpty();
      }

      @Override
      public Change next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        SnapshotScan.Entry entry = chunk.get(next++);
        return new Change(route, entry.key(), entry.value(), sequence);
      }
    };
  }

  @Override
  public String toString() {
    return "Verification[" + replication.name() + "]";
  }
}
