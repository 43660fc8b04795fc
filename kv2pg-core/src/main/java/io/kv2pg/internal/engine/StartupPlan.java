package io.kv2pg.internal.engine;

import io.kv2pg.ReplicationException;
import io.kv2pg.internal.postgres.CheckpointStore;
import io.kv2pg.internal.postgres.CheckpointStore.CopyProgress;
import io.kv2pg.internal.postgres.PostgresSession;
import io.kv2pg.internal.postgres.SqlStates;
import io.kv2pg.internal.rocksdb.WalSource;
import io.kv2pg.internal.table.DeclaredTableWriter;
import io.kv2pg.internal.table.MappingPlan;
import io.kv2pg.internal.table.TableWriter;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;
import org.rocksdb.Snapshot;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a run must do before it streams: which mappings it copies (new, changed, marked for a
 * re-copy, or interrupted copies), how (in chunks, or all in one transaction when a table already
 * holds rows that the copy must replace), from which snapshot, and where the stream starts. Made
 * at the start from the checkpoint, and again after a write-ahead log gap that is re-copied; the
 * copy progress it saves is committed with the first checkpoint of a new name, so a crash in
 * between starts over cleanly. Used by the writer thread only.
 *
 * <p>A mapping is <em>re-copied</em> (cleared, then copied, together with every other copy of the
 * run, in one transaction) when its table holds rows the copy must replace: its record's
 * fingerprint differs from the mapping (changed, left out of a run, reset: {@link
 * CheckpointStore#markForRecopy}), or a gap is re-copied. A declared table kv2pg has no record
 * of is probed when its copy starts ({@link InitialCopy.TableHoldsRows}), and planned again as a
 * re-copy if it holds rows; a statement mapping kv2pg has no record of is assumed to write an
 * empty table. Every mapping of the run that writes the same declared table as a re-copied one is
 * re-copied too, since the table is cleared whole; unless the re-copied mapping has a key range
 * (fan-in: several stores write the table), whose clear and probe touch only the rows in its range.
 */
final class StartupPlan {
  private static final Logger LOG = LoggerFactory.getLogger(StartupPlan.class);

  /** The checkpoint the stream starts after. */
  final long appliedSequence;
  /** The snapshot the copies read, or {@code null} when nothing is copied; the caller releases it. */
  final Snapshot snapshot;
  /** The copies to make, by mapping index, each with where it starts. */
  final Map<Integer, CopyProgress> copies;
  /**
   * The copies, among {@link #copies}, that replace rows already in their tables: when there is
   * one, every copy of the run is made in one transaction that first clears these tables.
   */
  final Set<Integer> recopies;

  private StartupPlan(long appliedSequence, Snapshot snapshot, Map<Integer, CopyProgress> copies,
      Set<Integer> recopies) {
    this.appliedSequence = appliedSequence;
    this.snapshot = snapshot;
    this.copies = copies;
    this.recopies = recopies;
  }

  /**
   * Returns the copies whose changes the stream leaves out up to the snapshot (what they copy):
   * every copy but the re-copies, whose old tables the stream keeps bringing up to the snapshot
   * until the re-copy replaces them.
   */
  Map<Integer, CopyProgress> skippedByStream() {
    Map<Integer, CopyProgress> skipped = new HashMap<>(copies);
    skipped.keySet().removeAll(recopies);
    return skipped;
  }

  /** A gap in the write-ahead log that this run re-copies. */
  record Gap(long firstMissing, long lastMissing) {
    String describe(long snapshotSequence) {
      return "sequences " + firstMissing + " to " + lastMissing + " missing from the write-ahead log;"
          + " every mapping re-copied from the snapshot at sequence " + snapshotSequence;
    }
  }

  /**
   * Creates or checks each mapping's table, one at a time across runners: the replications of
   * several stores that write one table start at once.
   */
  static void prepareTables(PostgresSession session, List<TableWriter> writers)
      throws SQLException, PostgresSession.Abandoned {
    for (TableWriter writer : writers) {
      session.run((connection, retry) -> {
        try {
          CheckpointStore.serializeTableCreation(connection);
          writer.prepare(connection);
          connection.commit();
        } catch (SQLException e) {
          connection.rollback();
          if (SqlStates.isTransient(e)) {
            throw e;
          }
          throw new ReplicationException(ReplicationException.Kind.CONFIGURATION, "Preparing the table of"
              + " mapping '" + writer.mappingName() + "' failed: " + SqlStates.describe(e) + ". Fix its"
              + " create commands or declaration, then start again.", e, writer.mappingName(),
              writer.treeName(), null, -1);
        } catch (RuntimeException e) {
          connection.rollback();
          throw e;
        }
        return null;
      });
    }
  }

  /** The rows each declared mapping owns in its table; a statement mapping's rows are unknown. */
  private static List<CheckpointStore.KeyClaim> keyClaims(List<MappingPlan> mappings, List<TableWriter> writers) {
    List<CheckpointStore.KeyClaim> claims = new java.util.ArrayList<>();
    for (int i = 0; i < mappings.size(); i++) {
      if (writers.get(i) instanceof DeclaredTableWriter declared) {
        claims.add(new CheckpointStore.KeyClaim(mappings.get(i).name(), mappings.get(i).treeName(),
            declared.knownTable(), declared.ownedFrom(), declared.ownedUntil()));
      }
    }
    return claims;
  }

  /**
   * Reads the checkpoint and plans the run; takes a snapshot when something must be copied.
   *
   * @param writers the mappings' writers, by position
   * @param gap the gap this run re-copies every mapping for, or {@code null}
   * @throws ReplicationException if the store is behind the checkpoint (restored or replaced), or
   *     a statement mapping must be re-copied and has no clear statement
   */
  static StartupPlan make(String name, WalSource source, List<MappingPlan> mappings, List<TableWriter> writers,
      PostgresSession session, CheckpointStore checkpoints, Gap gap) throws SQLException, PostgresSession.Abandoned {
    Snapshot[] snapshot = new Snapshot[1];
    try {
      return session.run((connection, retry) -> {
        OptionalLong applied = checkpoints.appliedSequence(connection);
        long latest = source.latestSequence();
        if (applied.isPresent() && applied.getAsLong() > latest) {
          throw new ReplicationException(ReplicationException.Kind.STORE, "Replication '" + name + "' has"
              + " applied the store up to sequence " + applied.getAsLong() + ", but the store at "
              + source.describe() + " only reaches sequence " + latest + ": it was restored from a backup"
              + " or replaced. Its later writes would be missed. Re-copy every mapping: stop the replication,"
              + " run 'kv2pg reset --config FILE' (or call ReplicationRecords.reset(\"" + name + "\")), then"
              + " start again; the tables keep their old rows until the new copy replaces them.", null, null,
              null, null, applied.getAsLong());
        }
        checkpoints.claimKeys(connection, mappings.stream().map(MappingPlan::name).toList(),
            keyClaims(mappings, writers));
        Map<String, CopyProgress> copied = checkpoints.copyProgress(connection);
        Map<String, String> fingerprints = checkpoints.fingerprints(connection);
        Map<Integer, CopyProgress> copies = new HashMap<>();
        Set<Integer> recopies = new TreeSet<>();
        for (int i = 0; i < mappings.size(); i++) {
          MappingPlan mapping = mappings.get(i);
          CopyProgress progress = copied.get(mapping.name());
          String reason = null;
          if (gap != null) {
            reason = "a write-ahead log gap is re-copied";
          } else if (progress != null && fingerprints.get(mapping.name()) == null) {
            reason = "it was reset, or left out of a run";
          } else if (progress != null && !mapping.fingerprint().equals(fingerprints.get(mapping.name()))) {
            reason = "it changed since it was copied (tree, prefix, table or statements)";
          } else if (progress != null && applied.isEmpty()) {
            reason = "its replication was reset";
          }
          if (reason != null) {
            LOG.info("kv2pg[{}]: mapping '{}' is copied again, replacing the rows of its table: {}", name,
                mapping.name(), reason);
            recopies.add(i);
            copies.put(i, null);
          } else if (progress == null || !progress.completed()) {
            copies.put(i, progress);
          }
        }
        connection.commit();
        // A declared table is cleared whole: every mapping of the run that writes it is copied again.
        // One with a key range clears only its range, which no other mapping of the table owns.
        Set<String> clearedTables = new HashSet<>();
        for (int i : recopies) {
          if (writers.get(i).knownTable() != null && writers.get(i).clearsWholeTable()) {
            clearedTables.add(writers.get(i).knownTable());
          }
        }
        for (int i = 0; i < mappings.size(); i++) {
          if (!recopies.contains(i) && clearedTables.contains(writers.get(i).knownTable())) {
            LOG.info("kv2pg[{}]: mapping '{}' is copied again: it writes table {}, which is re-copied", name,
                mappings.get(i).name(), writers.get(i).knownTable());
            recopies.add(i);
            copies.put(i, null);
          }
        }
        for (int i : recopies) {
          if (!writers.get(i).canClear()) {
            throw new ReplicationException(ReplicationException.Kind.CONFIGURATION, "Mapping '"
                + mappings.get(i).name() + "' of replication '" + name + "' must be copied again into a table"
                + " that holds its rows (see the log for why), but kv2pg does not know which rows a statement"
                + " mapping wrote. Add the statement that removes them, such as TreeMapping.Builder.clear(\"delete"
                + " from my_table\"), then start again: the table keeps its old rows until the new copy"
                + " replaces them, in one transaction.", null, mappings.get(i).name(), mappings.get(i).treeName(),
                null, -1);
          }
        }
        List<String> names = mappings.stream().map(MappingPlan::name).toList();
        if (copies.isEmpty()) {
          checkpoints.markOtherMappings(connection, names);
          connection.commit();
          return new StartupPlan(applied.getAsLong(), null, Map.of(), Set.of());
        }
        if (snapshot[0] == null) {
          snapshot[0] = source.snapshot(); // Kept across retries.
        }
        long snapshotSequence = snapshot[0].getSequenceNumber();
        // When every mapping is copied from its beginning, no table needs the log before the
        // snapshot: the stream starts there (after a gap, it must).
        boolean fromSnapshot = applied.isEmpty() || (copies.size() == mappings.size()
            && copies.entrySet().stream().allMatch(copy -> recopies.contains(copy.getKey())
                || copy.getValue() == null || copy.getValue().resumeAfter() == null));
        try {
          if (fromSnapshot) {
            checkpoints.saveAppliedSequence(connection, snapshotSequence);
          }
          checkpoints.markOtherMappings(connection, names);
          // Kept until the re-copy commits, so that an interrupted one starts over.
          checkpoints.markForRecopy(connection, recopies.stream().map(i -> mappings.get(i).name()).toList());
          if (gap != null) {
            checkpoints.recordGap(connection, gap.describe(snapshotSequence));
          }
          for (Map.Entry<Integer, CopyProgress> copy : copies.entrySet()) {
            CopyProgress previous = copy.getValue();
            MappingPlan mapping = mappings.get(copy.getKey());
            if (recopies.contains(copy.getKey())) {
              copy.setValue(new CopyProgress(snapshotSequence, null, 0, false));
              continue;
            }
            CopyProgress start = new CopyProgress(snapshotSequence,
                previous == null ? null : previous.resumeAfter(),
                previous == null ? 0 : previous.rowsCopied(), false);
            checkpoints.saveCopyProgress(connection, mapping.name(), start);
            checkpoints.saveFingerprint(connection, mapping.name(), mapping.fingerprint());
            copy.setValue(start);
          }
          connection.commit();
        } catch (SQLException | RuntimeException e) {
          connection.rollback();
          throw e;
        }
        return new StartupPlan(fromSnapshot ? snapshotSequence : applied.getAsLong(), snapshot[0], copies,
            recopies);
      });
    } catch (SQLException | PostgresSession.Abandoned | RuntimeException e) {
      release(source, snapshot[0]);
      throw e;
    }
  }

  /** Releases a snapshot taken by {@link #make}. */
  static void release(WalSource source, Snapshot snapshot) {
    if (snapshot != null) {
      if (source.database().isOwningHandle()) {
        source.database().releaseSnapshot(snapshot);
      }
      snapshot.close();
    }
  }
}
