package io.kv2pg.internal.engine;

import io.kv2pg.ReplicationException;
import io.kv2pg.internal.change.Change;
import io.kv2pg.internal.change.Route;
import io.kv2pg.internal.postgres.CheckpointStore;
import io.kv2pg.internal.postgres.CheckpointStore.CopyProgress;
import io.kv2pg.internal.postgres.PostgresSession;
import io.kv2pg.internal.postgres.SqlStates;
import io.kv2pg.internal.rocksdb.SnapshotScan;
import io.kv2pg.internal.table.MappingPlan;
import io.kv2pg.internal.table.TableWriter;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.Supplier;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.Snapshot;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies one mapping's entries from a snapshot in chunks, each committed with the copy's progress,
 * so that an interrupted copy resumes after the last committed key.
 */
final class InitialCopy {
  private static final Logger LOG = LoggerFactory.getLogger(InitialCopy.class);
  /**
   * Rows per transaction. Each commit costs round trips and a WAL flush during which Postgres
   * waits: about 5 % of a narrow copy's time at 20,000 rows, 2 % at 50,000. Larger chunks gain
   * little more and live long enough to reach the old generation: at 100,000, a copy under a
   * 256 MiB heap spent eight times as long in GC.
   */
  static final int CHUNK_ROWS = 50_000;
  /** Key and value bytes per transaction, which bounds the memory of the chunks in flight. */
  private static final long CHUNK_BYTES = 8L << 20;

  /** How long closing waits for the snapshot reader, which ends within a chunk once interrupted. */
  private static final Duration SCAN_JOIN_TIMEOUT = Duration.ofSeconds(30);

  private final String logName;
  private final RocksDB database;
  private final CheckpointStore checkpoints;
  private final BooleanSupplier stopping;
  private final int chunkRows;
  private final DeadLetterBook deadLetters;

  InitialCopy(String logName, RocksDB database, CheckpointStore checkpoints, BooleanSupplier stopping,
      int chunkRows, DeadLetterBook deadLetters) {
    this.chunkRows = chunkRows;
    this.deadLetters = deadLetters;
    this.logName = logName;
    this.database = database;
    this.checkpoints = checkpoints;
    this.stopping = stopping;
  }

  /**
   * Copies the mapping's entries after {@code resumeAfter}.
   *
   * @return whether the copy completed; {@code false} if the replication is stopping
   */
  boolean copy(PostgresSession session, MappingPlan mapping, Route route, TableWriter writer,
      Snapshot snapshot, CopyProgress start, Progress progressOfRun)
      throws SQLException, PostgresSession.Abandoned {
    long sequence = snapshot.getSequenceNumber();
    progressOfRun.copyStarted(mapping.name(), start.rowsCopied(), estimateKeys(mapping));
    LOG.info("kv2pg[{}]: copying mapping '{}' from the snapshot at sequence {}{}", logName,
        mapping.name(), sequence, start.resumeAfter() == null ? "" : " (resuming)");
    if (start.resumeAfter() == null && start.rowsCopied() == 0 && writer.knownTable() != null
        && session.run((connection, retry) -> {
          boolean holds = writer.holdsRows(connection);
          connection.commit();
          return holds;
        })) {
      progressOfRun.copyEnded();
      throw new TableHoldsRows(mapping.name(), writer.knownTable());
    }
    long rows = start.rowsCopied();
    byte[] lastCopied = start.resumeAfter();
    boolean nothingAhead = false; // known: the table holds no row of the mapping after lastCopied
    try (Prefetcher scan = new Prefetcher("kv2pg-" + logName + "-copy-reader", chunkRows,
        () -> new SnapshotScan(database, mapping.columnFamily(), snapshot, mapping.prefix(),
            start.resumeAfter()),
        entry -> new Change(route, entry.key(), entry.value(), sequence))) {
      while (true) {
        if (stopping.getAsBoolean()) {
          LOG.info("kv2pg[{}]: copy of '{}' interrupted by stop after {} rows; it resumes at the"
              + " next start", logName, mapping.name(), rows);
          return false;
        }
        Prefetcher.Chunk chunk = scan.next();
        List<Change> changes = chunk.changes();
        // A chunk may end early on its byte budget: only the scan knows whether more follow.
        boolean done = chunk.done();
        byte[] copiedThrough = lastCopied;
        byte[] last = changes.isEmpty() ? lastCopied : changes.get(changes.size() - 1).key();
        CopyProgress progress = new CopyProgress(sequence, last, rows + changes.size(), done);
        long started = System.nanoTime();
        nothingAhead = write(session, mapping, route, writer, changes, copiedThrough, nothingAhead, progress);
        rows = progress.rowsCopied();
        lastCopied = last;
        progressOfRun.copied(changes.size(), System.nanoTime() - started);
        if (done) {
          progressOfRun.copyEnded();
          LOG.info("kv2pg[{}]: copied mapping '{}': {} rows", logName, mapping.name(), rows);
          return true;
        }
      }
    }
  }

  /**
   * A first copy found its declared table holding rows (kv2pg has no record of them: a forgotten
   * replication, rows written by hand): the run must mark the mapping and plan again, to replace
   * the table in one transaction instead of merging into it.
   */
  static final class TableHoldsRows extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final String mapping;

    TableHoldsRows(String mapping, String table) {
      super("the table " + table + " of mapping '" + mapping + "' holds rows kv2pg has no record of copying",
          null, false, false);
      this.mapping = mapping;
    }
  }

  /** One mapping of a re-copy: what it reads and writes, where it starts, and whether it is cleared first. */
  record Target(MappingPlan mapping, Route route, TableWriter writer, CopyProgress start, boolean cleared) {}

  /**
   * Copies every target in one transaction: clears the tables of the targets marked so (in reverse
   * order, children before parents), copies each target from the snapshot in chunks (in order,
   * parents first), records each copy as complete, and commits. Readers see the old tables until
   * the commit; deferred foreign keys are checked at it. Memory stays bounded by the chunks: the
   * rows are streamed to Postgres, which holds the transaction. A transient error starts the whole
   * transaction over; a stop rolls it back, and the next start copies again from the beginning.
   *
   * @return whether the copy committed; {@code false} if the replication is stopping
   */
  boolean recopy(PostgresSession session, List<Target> targets, Snapshot snapshot, Progress progressOfRun)
      throws SQLException, PostgresSession.Abandoned {
    long sequence = snapshot.getSequenceNumber();
    LOG.info("kv2pg[{}]: copying {} mapping(s) ({}) from the snapshot at sequence {} in one transaction,"
        + " replacing the rows of {}", logName, targets.size(),
        String.join(", ", targets.stream().map(target -> target.mapping().name()).toList()), sequence,
        String.join(", ", targets.stream().filter(Target::cleared).map(target -> target.mapping().name()).toList()));
    long started = System.nanoTime();
    Map<String, Long> rowsByMapping = new LinkedHashMap<>();
    try {
      boolean committed = session.run((connection, retry) -> {
        rowsByMapping.clear();
        if (retry && recopySaved(connection, targets, sequence)) {
          return true;
        }
        try {
          for (int i = targets.size() - 1; i >= 0; i--) {
            Target target = targets.get(i);
            // A table cleared whole is cleared once; a mapping with a key range clears its range.
            if (target.cleared() && (target.writer().knownTable() == null || !target.writer().clearsWholeTable()
                || firstWriting(targets, i, target.writer().knownTable()))) {
              target.writer().clear(connection);
            }
          }
          Set<String> written = new HashSet<>();
          for (Target target : targets) {
            // A cleared table (or key range) is empty until its first mapping writes it: COPY straight in.
            boolean empty = target.cleared() && (target.writer().knownTable() == null
                || written.add(target.writer().knownTable()));
            Long rows = copyInTransaction(connection, target, snapshot, empty, progressOfRun);
            if (rows == null) {
              connection.rollback();
              deadLetters.rolledBack();
              LOG.info("kv2pg[{}]: the copy in one transaction was interrupted by stop and rolled back;"
                  + " the tables keep their old rows, and the next start copies again", logName);
              return false;
            }
            rowsByMapping.put(target.mapping().name(), rows);
          }
          for (Target target : targets) {
            String mapping = target.mapping().name();
            checkpoints.saveCopyProgress(connection, mapping, new CopyProgress(sequence, null,
                target.start().rowsCopied() + rowsByMapping.get(mapping), true));
            checkpoints.saveFingerprint(connection, mapping, target.mapping().fingerprint());
          }
          connection.commit();
          deadLetters.committed();
          return true;
        } catch (SQLException e) {
          connection.rollback();
          deadLetters.rolledBack();
          if (SqlStates.isTransient(e)) {
            throw e;
          }
          throw new ReplicationException(ReplicationException.Kind.POSTGRES, "Replication '" + logName + "'"
              + " stopped: Postgres refused the copy of " + targets.size() + " mapping(s) in one transaction"
              + " (" + SqlStates.describe(e) + "); nothing of it was committed and the tables keep their old"
              + " rows. A foreign key must be DEFERRABLE INITIALLY DEFERRED, with parent mappings listed"
              + " before child mappings. Fix it, then start again: the copy starts over.", e);
        } catch (RuntimeException e) {
          connection.rollback();
          deadLetters.rolledBack();
          throw e;
        }
      });
      progressOfRun.copyEnded();
      if (!committed) {
        return false;
      }
      progressOfRun.recopyCommitted(rowsByMapping, System.nanoTime() - started);
      LOG.info("kv2pg[{}]: copied {} in one transaction", logName, rowsByMapping.entrySet().stream()
          .map(entry -> "'" + entry.getKey() + "': " + entry.getValue() + " rows").toList());
      return true;
    } catch (PostgresSession.LimitReached e) {
      throw new ReplicationException(ReplicationException.Kind.POSTGRES, "Replication '" + logName + "'"
          + " stopped: the copy of " + targets.size() + " mapping(s) in one transaction, which replaces rows"
          + " already in their tables, failed again and again with " + e.getMessage() + ": "
          + SqlStates.advice(e.last()) + ". Then start the replication again: the copy starts over.", e);
    }
  }

  /** Returns whether no target before {@code index} clears {@code table} whole. */
  private static boolean firstWriting(List<Target> targets, int index, String table) {
    for (int i = 0; i < index; i++) {
      Target target = targets.get(i);
      if (target.cleared() && target.writer().clearsWholeTable() && table.equals(target.writer().knownTable())) {
        return false;
      }
    }
    return true;
  }

  /**
   * Writes one target's rows inside the open transaction, each chunk under a savepoint so that a
   * refused row can be named.
   *
   * @param empty whether the table is known to hold no row of the mapping
   * @return the rows written, or {@code null} if the replication is stopping
   */
  private Long copyInTransaction(java.sql.Connection connection, Target target, Snapshot snapshot, boolean empty,
      Progress progressOfRun) throws SQLException {
    MappingPlan mapping = target.mapping();
    long sequence = snapshot.getSequenceNumber();
    byte[] resumeAfter = target.start().resumeAfter();
    progressOfRun.copyStarted(mapping.name(), target.start().rowsCopied(), estimateKeys(mapping));
    long rows = 0;
    byte[] lastCopied = resumeAfter;
    boolean nothingAhead = empty;
    try (Prefetcher scan = new Prefetcher("kv2pg-" + logName + "-copy-reader", chunkRows,
        () -> new SnapshotScan(database, mapping.columnFamily(), snapshot, mapping.prefix(), resumeAfter),
        entry -> new Change(target.route(), entry.key(), entry.value(), sequence))) {
      while (true) {
        if (stopping.getAsBoolean()) {
          return null;
        }
        Prefetcher.Chunk chunk = scan.next();
        List<Change> changes = withoutSetAside(chunk.changes());
        nothingAhead = writeChunk(connection, target, changes, lastCopied, nothingAhead, sequence);
        rows += changes.size();
        if (!changes.isEmpty()) {
          lastCopied = changes.get(changes.size() - 1).key();
        }
        progressOfRun.copyWritten(changes.size());
        if (chunk.done()) {
          return rows;
        }
      }
    }
  }

  /**
   * Writes one chunk of a copy in one transaction under a savepoint; with dead letters on, a row
   * the mapping cannot read or Postgres refuses is set aside and the chunk written without it.
   *
   * @return whether the table holds no row of the mapping after the chunk
   */
  private boolean writeChunk(java.sql.Connection connection, Target target, List<Change> changes, byte[] lastCopied,
      boolean nothingAhead, long sequence) throws SQLException {
    while (true) {
      java.sql.Savepoint savepoint = connection.setSavepoint();
      try {
        boolean stillNothingAhead = target.writer().copy(connection, changes, lastCopied, nothingAhead);
        deadLetters.writeIn(connection, target.route(), changes, sequence);
        connection.releaseSavepoint(savepoint);
        return stillNothingAhead;
      } catch (SQLException e) {
        if (SqlStates.isTransient(e)) {
          throw e;
        }
        connection.rollback(savepoint);
        // The replay checks constraints at once; rolled back to its own savepoint, so that the
        // rest of the transaction keeps them as declared.
        java.sql.Savepoint probe = connection.setSavepoint();
        ReplicationException refused = target.writer().findRefused(connection, changes, false);
        connection.rollback(probe);
        if (refused == null) {
          throw e;
        }
        if (!setAside(changes, refused)) {
          throw refused;
        }
      } catch (ReplicationException e) {
        connection.rollback(savepoint);
        if (!setAside(changes, e)) {
          throw e;
        }
      }
    }
  }

  /** Returns whether every target's copy is recorded complete at {@code sequence}: the commit happened. */
  private boolean recopySaved(java.sql.Connection connection, List<Target> targets, long sequence)
      throws SQLException {
    Map<String, CopyProgress> saved = checkpoints.copyProgress(connection);
    connection.commit();
    for (Target target : targets) {
      CopyProgress progress = saved.get(target.mapping().name());
      if (progress == null || !progress.completed() || progress.snapshotSequence() != sequence) {
        return false;
      }
    }
    return true;
  }

  /** Returns RocksDB's estimate of the keys in the mapping's tree, 0 if it has none. */
  private long estimateKeys(MappingPlan mapping) {
    try {
      return Math.max(0, database.getLongProperty(mapping.columnFamily(), "rocksdb.estimate-num-keys"));
    } catch (RocksDBException e) {
      LOG.debug("kv2pg[{}]: no key estimate for tree '{}': {}", logName, mapping.treeName(), e.getMessage());
      return 0;
    }
  }

  /**
   * Writes a chunk and its progress in one transaction. A chunk that keeps hitting a limit of
   * Postgres (a statement timeout, memory) is written in two halves, each with its own progress,
   * down to a single row.
   *
   * @param copiedThrough the last key copied before the chunk, or {@code null}
   * @param known whether the table is known to hold no row of the mapping after {@code copiedThrough}
   * @return whether the table holds no row of the mapping after the chunk
   */
  private boolean write(PostgresSession session, MappingPlan mapping, Route route, TableWriter writer,
      List<Change> changes,
      byte[] copiedThrough, boolean known, CopyProgress progress) throws SQLException, PostgresSession.Abandoned {
    try {
      return session.run((connection, retry) -> {
        if (retry && alreadySaved(connection, mapping.name(), progress)) {
          return false; // Unknown again: the next chunk checks.
        }
        List<Change> rows = withoutSetAside(changes);
        while (true) {
          try {
            boolean stillNothingAhead = writer.copy(connection, rows, copiedThrough, known);
            deadLetters.writeIn(connection, route, rows, progress.snapshotSequence());
            checkpoints.saveCopyProgress(connection, mapping.name(), progress);
            connection.commit();
            deadLetters.committed();
            return stillNothingAhead;
          } catch (SQLException e) {
            connection.rollback();
            deadLetters.rolledBack();
            if (SqlStates.isTransient(e)) {
              throw e;
            }
            ReplicationException refused = writer.findRefused(connection, rows, false);
            connection.rollback();
            if (refused == null) {
              throw e;
            }
            if (!setAside(rows, refused)) {
              throw refused;
            }
          } catch (ReplicationException e) {
            connection.rollback();
            deadLetters.rolledBack();
            if (!setAside(rows, e)) {
              throw e;
            }
          } catch (RuntimeException e) {
            connection.rollback();
            deadLetters.rolledBack();
            throw e;
          }
        }
      });
    } catch (PostgresSession.LimitReached e) {
      if (changes.size() == 1) {
        throw new ReplicationException(ReplicationException.Kind.POSTGRES, "Replication '" + logName + "'"
            + " stopped: the initial copy of mapping '" + mapping.name() + "' failed again and again, even"
            + " one row at a time (key " + HexFormat.of().formatHex(changes.get(0).key()) + "), with "
            + e.getMessage() + ": " + SqlStates.advice(e.last()) + ". Then start the replication again: the"
            + " copy resumes after its last committed chunk.", e, mapping.name(), mapping.treeName(),
            changes.get(0).key(), progress.snapshotSequence());
      }
      int middle = changes.size() / 2;
      LOG.warn("kv2pg[{}]: a chunk of {} rows of the copy of '{}' hit a limit of Postgres ({}); writing it in"
          + " two halves", logName, changes.size(), mapping.name(), SqlStates.describe(e.last()));
      List<Change> first = changes.subList(0, middle);
      byte[] firstLast = first.get(middle - 1).key();
      CopyProgress halfway = new CopyProgress(progress.snapshotSequence(), firstLast,
          progress.rowsCopied() - (changes.size() - middle), false);
      boolean nothingAhead = write(session, mapping, route, writer, first, copiedThrough, known, halfway);
      return write(session, mapping, route, writer, changes.subList(middle, changes.size()), firstLast, nothingAhead,
          progress);
    }
  }

  /**
   * Reads the snapshot one chunk ahead of the writer, on a thread of its own, so that reading
   * RocksDB overlaps with Postgres writing the previous chunk. Holds at most two chunks besides
   * the one being written. {@link #close()} returns once the scan is closed, so the snapshot may
   * be released after it.
   */
  private static final class Prefetcher implements AutoCloseable {
    /** A chunk of entries, as changes; {@code done} when no entry follows. */
    record Chunk(List<Change> changes, boolean done, Throwable failure) {}

    private final BlockingQueue<Chunk> ready = new ArrayBlockingQueue<>(1);
    private final Thread thread;

    /**
     * Starts reading; {@code toChange} runs on the reading thread, so that a chunk's entries are
     * garbage at once and only its changes wait in memory.
     */
    Prefetcher(String threadName, int chunkRows, Supplier<SnapshotScan> open,
        Function<SnapshotScan.Entry, Change> toChange) {
      thread = new Thread(() -> read(open, chunkRows, toChange), threadName);
      thread.setDaemon(true);
      thread.start();
    }

    private void read(Supplier<SnapshotScan> open, int chunkRows,
        Function<SnapshotScan.Entry, Change> toChange) {
      try {
        try (SnapshotScan scan = open.get()) {
          while (true) {
            List<SnapshotScan.Entry> entries = scan.next(chunkRows, CHUNK_BYTES);
            List<Change> changes = new ArrayList<>(entries.size());
            for (SnapshotScan.Entry entry : entries) {
              changes.add(toChange.apply(entry));
            }
            boolean done = scan.atEnd();
            ready.put(new Chunk(changes, done, null));
            if (done) {
              return;
            }
          }
        } catch (RuntimeException | Error e) {
          ready.put(new Chunk(List.of(), true, e));
        }
      } catch (InterruptedException e) {
        // Closed by the writer.
      }
    }

    /** Returns the next chunk, waiting for it; rethrows what the scan threw. */
    Chunk next() {
      try {
        Chunk chunk = ready.take();
        if (chunk.failure() instanceof RuntimeException e) {
          throw e;
        }
        if (chunk.failure() instanceof Error e) {
          throw e;
        }
        return chunk;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new ReplicationException(ReplicationException.Kind.INTERRUPTED, "kv2pg: interrupted while reading the snapshot", e);
      }
    }

    @Override
    public void close() {
      thread.interrupt();
      Threads.joinUninterruptibly(thread, SCAN_JOIN_TIMEOUT, thread.getName());
    }
  }

  /**
   * Returns the changes, without those set aside already (a retried transaction meets them again),
   * in a list that {@link #setAside} may change; the changes themselves when dead letters are off.
   */
  private List<Change> withoutSetAside(List<Change> changes) {
    if (!deadLetters.enabled()) {
      return changes;
    }
    List<Change> rows = new ArrayList<>(changes);
    rows.removeIf(deadLetters::isSetAside);
    return rows;
  }

  /**
   * Sets aside, as a dead letter, the change of {@code rows} that a data error names, when dead
   * letters are on; returns whether it did.
   */
  private boolean setAside(List<Change> rows, ReplicationException error) {
    if (!deadLetters.enabled() || error.kind() != ReplicationException.Kind.DATA || error.key().isEmpty()) {
      return false;
    }
    byte[] key = error.key().get();
    for (java.util.Iterator<Change> it = rows.iterator(); it.hasNext(); ) {
      Change change = it.next();
      if (java.util.Arrays.equals(change.key(), key)) {
        it.remove();
        deadLetters.setAside(change, error);
        return true;
      }
    }
    return false;
  }

  private boolean alreadySaved(java.sql.Connection connection, String mapping, CopyProgress progress)
      throws SQLException {
    CopyProgress saved = checkpoints.copyProgress(connection).get(mapping);
    connection.commit();
    return saved != null && saved.rowsCopied() >= progress.rowsCopied()
        && saved.snapshotSequence() == progress.snapshotSequence()
        && (saved.completed() || !progress.completed());
  }
}
