package io.kv2pg;

import io.kv2pg.internal.change.Change;
import io.kv2pg.internal.change.Route;
import io.kv2pg.internal.postgres.CheckpointStore;
import io.kv2pg.internal.postgres.SqlStates;
import io.kv2pg.internal.rocksdb.PrimaryWalSource;
import io.kv2pg.internal.rocksdb.SnapshotScan;
import io.kv2pg.internal.rocksdb.WalSource;
import io.kv2pg.internal.table.DeclaredMappingPlan;
import io.kv2pg.internal.table.DeclaredTableWriter;
import io.kv2pg.internal.table.MappingPlan;
import io.kv2pg.internal.verify.ChangedKeys;
import io.kv2pg.internal.verify.TableRepairer;
import io.kv2pg.internal.verify.TableVerifier;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.function.Predicate;
import org.rocksdb.Snapshot;

/**
 * Compares a replication's declared tables with the store: every entry of every declared mapping,
 * read from a RocksDB snapshot, against its table, both streamed in key order with bounded memory.
 *
 * <p>Safe while the replication runs: it reads the table and the replication's checkpoint in one
 * Postgres snapshot, then takes the store snapshot, and leaves out the keys the store changed
 * between the checkpoint and its snapshot (read from the write-ahead log), since the replication
 * may not have applied those yet. Statement mappings cannot be verified or repaired (kv2pg does
 * not know their tables) and are left out. {@link #repair()} also fixes the rows that differ,
 * without a re-copy, while the replication runs too. Immutable and thread-safe; each {@link
 * #run()} opens its own connection.
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
          + "' has no declared table to verify: verification and repair need TreeMapping.Builder.table(...)."
          + " Its statement mappings cannot be verified or repaired: kv2pg does not know their tables.");
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
        return run(connection, source, null, new ArrayList<>());
      } finally {
        connection.rollback();
      }
    } catch (SQLException e) {
      throw new ReplicationException(ReplicationException.Kind.POSTGRES, "Verification of replication '" + replication.name()
          + "' failed: " + SqlStates.describe(e), e);
    }
  }

  /**
   * Compares, repairs the rows that differ, then compares again (the report's {@link
   * RepairReport#after()}, which decides {@link RepairReport#isClean()}).
   *
   * <p>Only the rows found missing, extra or different are written, through the same writer as
   * the replication's (extra rows deleted, then missing and different rows upserted), in one
   * transaction per chunk of up to 1,000 rows, while the comparison goes on; every other row keeps
   * its version. Declared tables only: kv2pg does not know the tables of statement mappings, which
   * are left out and named in {@link RepairReport#statementMappings()}.
   *
   * <p>Safe while the replication runs, with no need to stop it. Each chunk's transaction locks the
   * table in {@code SHARE ROW EXCLUSIVE} mode (the replication's writes to that table wait until
   * the chunk commits; readers do not) and then the replication's checkpoint row with {@code FOR
   * SHARE} (its next commit waits too). It then reads the write-ahead log up to the store's latest
   * sequence and leaves alone every key written after the checkpoint the comparison read: the
   * replication has applied those writes, or will apply them after the chunk, and a repair from
   * the comparison's snapshot would overwrite a newer row or bring back a deleted one. It also
   * leaves alone the keys that have a dead letter ({@link Replication#retryDeadLetters()} is for
   * those). A write the replication makes after a chunk is newer than what the chunk wrote. The
   * keys left alone are counted in {@link RepairReport.TableRepair#leftAlone()}; the replication
   * brings them up to date itself as it applies their writes.
   *
   * <p>Each call opens two connections (the comparison's snapshot and the repair's); safe to call
   * from any thread, but two repairs of the same tables at once wait for each other's chunks.
   *
   * @return what was found, what was repaired, and the comparison after the repair; never {@code
   *     null}
   * @throws IllegalStateException if the replication has no checkpoint yet, or a declared
   *     mapping's initial copy is not complete (the copy fills the table: start the replication
   *     and let it finish), or a copy or reset began during the repair; what was committed before
   *     stays (every chunk leaves the table closer to the store)
   * @throws ReplicationException if Postgres or the store cannot be read or written
   */
  public RepairReport repair() {
    WalSource source = replication.openSource();
    List<RepairReport.TableRepair> repairs = new ArrayList<>();
    VerificationReport before;
    try (source; Connection connection = replication.postgres().open();
        Connection repairing = replication.postgres().open()) {
      connection.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
      repairing.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
      try {
        before = run(connection, source, repairing, repairs);
      } finally {
        connection.rollback();
        repairing.rollback();
      }
    } catch (SQLException e) {
      throw new ReplicationException(ReplicationException.Kind.POSTGRES, "Repair of replication '" + replication.name()
          + "' failed: " + SqlStates.describe(e) + ". Every chunk committed before stays repaired.", e);
    }
    List<String> statementMappings = replication.trees().stream().filter(tree -> !tree.isDeclaredTable())
        .map(TreeMapping::name).toList();
    return new RepairReport(before, repairs, run(), statementMappings);
  }

  /**
   * Compares every declared table; with {@code repairing} (a READ COMMITTED connection), repairs
   * each difference as it is found and adds what it did to {@code repairs}.
   */
  private VerificationReport run(Connection connection, WalSource source, Connection repairing,
      List<RepairReport.TableRepair> repairs) throws SQLException {
    Optional<ReplicationRecord> record = CheckpointStore.records(connection, replication.name()).stream().findFirst();
    OptionalLong applied = record.map(ReplicationRecord::appliedSequence).orElse(OptionalLong.empty());
    List<MappingPlan> plans = replication.plans(source);
    if (repairing != null) {
      requireRepairable(record, applied, plans);
    }
    catchUp(source);
    List<Route> routes = MappingPlan.routes(plans);
    // A secondary instance cannot take snapshots; its reads show the state of its last catch-up.
    // A repair catches up again before each chunk; should an open scan see a value written since,
    // its key is in the log up to that catch-up, so the chunk leaves it alone.
    Snapshot snapshot = followPrimary ? null : source.snapshot();
    try {
      long storeSequence = snapshot != null ? snapshot.getSequenceNumber()
          : source.database().getLatestSequenceNumber();
      ChangedKeys changed = new ChangedKeys(source, routes, applied.orElse(storeSequence));
      changed.readThrough(storeSequence);
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
        TableRepairer repairer = repairing == null ? null : new TableRepairer(repairing, writer, routes.get(i),
            guard(source, changed, i, mapping.name(), applied.getAsLong()));
        TableVerifier.Counts counts;
        try (SnapshotScan scan = new SnapshotScan(source.database(), mapping.columnFamily(), snapshot,
            mapping.prefix(), null)) {
          counts = new TableVerifier(writer, maxSamples)
              .compare(connection, entries(scan, routes.get(i), storeSequence), changed.through(i, storeSequence),
                  repairer == null ? TableVerifier.Differences.NONE : repairer);
        }
        if (repairer != null) {
          repairer.flush();
          TableRepairer.Counts fixed = repairer.counts();
          long differences = counts.missing() + counts.extra() + counts.different();
          repairs.add(new RepairReport.TableRepair(mapping.name(), writer.table().displayName(), fixed.inserted(),
              fixed.updated(), fixed.deleted(), fixed.leftAlone(),
              differences - fixed.inserted() - fixed.updated() - fixed.deleted() - fixed.leftAlone()));
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

  /** Refuses a repair that a copy (not begun, or not complete) would undo or trip over. */
  private void requireRepairable(Optional<ReplicationRecord> record, OptionalLong applied, List<MappingPlan> plans) {
    String refused = "Cannot repair the tables of replication '" + replication.name() + "': ";
    if (applied.isEmpty()) {
      throw new IllegalStateException(refused + "it has no checkpoint yet (it has not committed its initial copy)."
          + " Start it and let the copy finish; the copy fills the tables. Nothing was repaired.");
    }
    for (MappingPlan plan : plans) {
      if (plan instanceof DeclaredMappingPlan
          && !record.flatMap(r -> r.copy(plan.name())).map(ReplicationRecord.MappingCopy::completed).orElse(false)) {
        throw new IllegalStateException(refused + "the initial copy of mapping '" + plan.name() + "' is not complete"
            + " (its next start copies it). Start the replication and let the copy finish; the copy fills the"
            + " table. Nothing was repaired.");
      }
    }
  }

  /**
   * What each repair chunk of the mapping at {@code position} checks, in its transaction and after
   * its table lock: the checkpoint (locked, so that the replication commits nothing until the chunk
   * does), the mapping's copy, and the keys to leave alone.
   */
  private TableRepairer.Guard guard(WalSource source, ChangedKeys changed, int position, String mapping,
      long compared) {
    CheckpointStore checkpoints = new CheckpointStore(replication.name());
    return connection -> {
      OptionalLong now = checkpoints.lockAppliedSequence(connection);
      CheckpointStore.CopyProgress copy = checkpoints.copyProgress(connection).get(mapping);
      if (now.isEmpty() || now.getAsLong() < compared || copy == null || !copy.completed()) {
        throw new IllegalStateException("Stopped repairing the tables of replication '" + replication.name()
            + "': its checkpoint or the copy of mapping '" + mapping + "' was reset or began again while the repair"
            + " ran; the copy will fill the table. Chunks committed before stay repaired.");
      }
      catchUp(source);
      // Every write the replication has applied or holds is in the store by now.
      changed.readThrough(source.database().getLatestSequenceNumber());
      Predicate<byte[]> written = changed.all(position);
      Set<ByteBuffer> deadLetters = new HashSet<>();
      for (DeadLetter letter : CheckpointStore.deadLetters(connection, replication.name())) {
        if (letter.mapping().equals(mapping)) {
          deadLetters.add(ByteBuffer.wrap(letter.key()));
        }
      }
      return key -> written.test(key) || deadLetters.contains(ByteBuffer.wrap(key));
    };
  }

  /**
   * Makes the latest writes visible: {@link #followingPrimary()} catches up with the primary, a
   * followed store catches up (up to the checkpoint at least, before the snapshot); an in-process
   * store sees them already.
   */
  private void catchUp(WalSource source) {
    try {
      if (followPrimary) {
        source.database().tryCatchUpWithPrimary();
      } else if (!(source instanceof PrimaryWalSource)) {
        source.refresh();
      }
    } catch (org.rocksdb.RocksDBException e) {
      throw new ReplicationException(ReplicationException.Kind.STORE, "Verification of replication '" + replication.name()
          + "' could not catch up with the store's primary: " + e.getMessage(), e);
    }
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
