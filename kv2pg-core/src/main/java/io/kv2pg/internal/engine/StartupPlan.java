package io.kv2pg.internal.engine;

import io.kv2pg.ReplicationException;
import io.kv2pg.internal.postgres.CheckpointStore;
import io.kv2pg.internal.postgres.CheckpointStore.CopyProgress;
import io.kv2pg.internal.postgres.PostgresSession;
import io.kv2pg.internal.postgres.SqlStates;
import io.kv2pg.internal.rocksdb.WalSource;
import io.kv2pg.internal.table.MappingPlan;
import io.kv2pg.internal.table.TableWriter;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.rocksdb.Snapshot;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a run must do before it streams: which mappings it copies (new, changed, or interrupted
 * copies), from which snapshot, and where the stream starts. Made once, at the start, from the
 * checkpoint; the copy progress it saves is committed with the first checkpoint of a new name, so
 * a crash in between starts over cleanly. Used by the writer thread only.
 */
final class StartupPlan {
  private static final Logger LOG = LoggerFactory.getLogger(StartupPlan.class);

  /** The checkpoint the stream starts after. */
  final long appliedSequence;
  /** The snapshot the copies read, or {@code null} when nothing is copied; the caller releases it. */
  final Snapshot snapshot;
  /** The copies to make, by mapping index, each with where it starts. */
  final Map<Integer, CopyProgress> copies;

  private StartupPlan(long appliedSequence, Snapshot snapshot, Map<Integer, CopyProgress> copies) {
    this.appliedSequence = appliedSequence;
    this.snapshot = snapshot;
    this.copies = copies;
  }

  /** Creates or checks each mapping's table. */
  static void prepareTables(PostgresSession session, List<TableWriter> writers)
      throws SQLException, PostgresSession.Abandoned {
    for (TableWriter writer : writers) {
      session.run((connection, retry) -> {
        try {
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

  /**
   * Reads the checkpoint and plans the run; takes a snapshot when something must be copied.
   *
   * @throws ReplicationException if the store is behind the checkpoint (restored or replaced)
   */
  static StartupPlan make(String name, WalSource source, List<MappingPlan> mappings, PostgresSession session,
      CheckpointStore checkpoints) throws SQLException, PostgresSession.Abandoned {
    Snapshot[] snapshot = new Snapshot[1];
    try {
      return session.run((connection, retry) -> {
        Map<Integer, CopyProgress> copies = new HashMap<>();
        OptionalLong applied = checkpoints.appliedSequence(connection);
        long latest = source.latestSequence();
        if (applied.isPresent() && applied.getAsLong() > latest) {
          throw new ReplicationException(ReplicationException.Kind.STORE, "Replication '" + name + "' has"
              + " applied the store up to sequence " + applied.getAsLong() + ", but the store at "
              + source.describe() + " only reaches sequence " + latest + ": it was restored from a backup"
              + " or replaced. Its later writes would be missed. Re-copy: drop the replication's tables and"
              + " forget its checkpoint with ReplicationRecords.forget(\"" + name + "\") (or use a new"
              + " replication name), then start again.", null, null, null, null, applied.getAsLong());
        }
        Map<String, CopyProgress> copied = applied.isPresent() ? checkpoints.copyProgress(connection) : Map.of();
        Map<String, String> fingerprints = applied.isPresent() ? checkpoints.fingerprints(connection) : Map.of();
        connection.commit();
        for (int i = 0; i < mappings.size(); i++) {
          MappingPlan mapping = mappings.get(i);
          CopyProgress progress = copied.get(mapping.name());
          if (progress != null && !mapping.fingerprint().equals(fingerprints.get(mapping.name()))) {
            LOG.info("kv2pg[{}]: mapping '{}' changed since it was copied (prefix, table or statements);"
                + " copying it again", name, mapping.name());
            progress = null;
          }
          if (progress == null || !progress.completed()) {
            copies.put(i, progress);
          }
        }
        List<String> names = mappings.stream().map(MappingPlan::name).toList();
        if (copies.isEmpty()) {
          checkpoints.forgetOtherMappings(connection, names);
          connection.commit();
          return new StartupPlan(applied.getAsLong(), null, Map.of());
        }
        if (snapshot[0] == null) {
          snapshot[0] = source.snapshot(); // Kept across retries.
        }
        long snapshotSequence = snapshot[0].getSequenceNumber();
        try {
          if (applied.isEmpty()) {
            checkpoints.clearCopyProgress(connection);
            checkpoints.saveAppliedSequence(connection, snapshotSequence);
          }
          checkpoints.forgetOtherMappings(connection, names);
          for (Map.Entry<Integer, CopyProgress> copy : copies.entrySet()) {
            CopyProgress previous = copy.getValue();
            CopyProgress start = new CopyProgress(snapshotSequence,
                previous == null ? null : previous.resumeAfter(),
                previous == null ? 0 : previous.rowsCopied(), false);
            MappingPlan mapping = mappings.get(copy.getKey());
            checkpoints.saveCopyProgress(connection, mapping.name(), start);
            checkpoints.saveFingerprint(connection, mapping.name(), mapping.fingerprint());
            copy.setValue(start);
          }
          connection.commit();
        } catch (SQLException | RuntimeException e) {
          connection.rollback();
          throw e;
        }
        return new StartupPlan(applied.orElse(snapshotSequence), snapshot[0], copies);
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
