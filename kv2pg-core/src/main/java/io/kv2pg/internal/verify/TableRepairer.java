package io.kv2pg.internal.verify;

import io.kv2pg.ReplicationException;
import io.kv2pg.internal.change.Change;
import io.kv2pg.internal.change.Route;
import io.kv2pg.internal.postgres.SqlStates;
import io.kv2pg.internal.table.DeclaredTableWriter;
import io.kv2pg.internal.table.RowFormatter;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * Repairs the rows of one declared table that a {@link TableVerifier} found different from the
 * store, as it finds them: collects them in chunks and writes each chunk in a transaction of its
 * own, on a connection of its own (READ COMMITTED, auto-commit off), through the table's {@link
 * DeclaredTableWriter} (extra rows deleted first, then missing and different rows upserted). Only
 * those rows are written; every other row keeps its version.
 *
 * <p>Each chunk's transaction first locks the table in {@code SHARE ROW EXCLUSIVE} mode: no other
 * transaction writes it until the chunk commits (readers go on), and a replication transaction
 * that had written it has committed. Then the {@link Guard} runs, in the same transaction: it
 * locks the checkpoint, checks the replication's state and returns the keys to leave alone
 * (written after the checkpoint the comparison read). A chunk that a deadlock or a lost
 * connection interrupts is rolled back and tried again, with the guard asked again.
 *
 * <p>Not thread-safe: the comparison's thread uses it.
 */
public final class TableRepairer implements TableVerifier.Differences {
  /** Rows per transaction. */
  static final int CHUNK = 1_000;
  private static final int ATTEMPTS = 10;

  /** What a chunk's transaction establishes before it writes. */
  public interface Guard {
    /**
     * Runs in the chunk's transaction, after the table lock was taken; returns the keys the chunk
     * must leave alone.
     *
     * @throws ReplicationException or {@link IllegalStateException} if the chunk must not be
     *     written at all (the transaction is then rolled back)
     */
    Predicate<byte[]> keysToLeaveAlone(Connection connection) throws SQLException;
  }

  /** What was repaired. */
  public record Counts(long inserted, long updated, long deleted, long leftAlone) {}

  private enum Fix { INSERT, UPDATE, DELETE }

  private record Pending(Fix fix, Change change) {}

  private final Connection connection;
  private final DeclaredTableWriter writer;
  private final Route route;
  private final Guard guard;
  private final RowFormatter formatter;
  private final List<Pending> pending = new ArrayList<>();
  private long inserted;
  private long updated;
  private long deleted;
  private long leftAlone;

  public TableRepairer(Connection connection, DeclaredTableWriter writer, Route route, Guard guard) {
    this.connection = connection;
    this.writer = writer;
    this.route = route;
    this.guard = guard;
    this.formatter = new RowFormatter(writer.table(), writer);
  }

  @Override
  public void missing(Change entry) throws SQLException {
    try {
      formatter.format(entry);
    } catch (ReplicationException e) {
      return; // the comparison's sample names it; no row can be written for it
    }
    add(new Pending(Fix.INSERT, entry));
  }

  @Override
  public void different(Change entry) throws SQLException {
    add(new Pending(Fix.UPDATE, entry));
  }

  @Override
  public void extra(byte[] key) throws SQLException {
    add(new Pending(Fix.DELETE, new Change(route, key, null, 0)));
  }

  private void add(Pending fix) throws SQLException {
    pending.add(fix);
    if (pending.size() >= CHUNK) {
      flush();
    }
  }

  /** Writes what is collected, in one transaction, and commits. */
  public void flush() throws SQLException {
    if (pending.isEmpty()) {
      return;
    }
    for (int attempt = 1; ; attempt++) {
      try {
        writeChunk();
        pending.clear();
        return;
      } catch (SQLException e) {
        rollbackQuietly(e);
        if (!SqlStates.isTransient(e) || SqlStates.isConnectionError(e) || attempt == ATTEMPTS) {
          throw e;
        }
      } catch (RuntimeException e) {
        rollbackQuietly(e);
        throw e;
      }
    }
  }

  private void writeChunk() throws SQLException {
    try (Statement statement = connection.createStatement()) {
      statement.execute("lock table " + writer.table().qualifiedName() + " in share row exclusive mode");
    }
    Predicate<byte[]> leave = guard.keysToLeaveAlone(connection);
    List<Change> deletes = new ArrayList<>();
    List<Change> upserts = new ArrayList<>();
    long inserts = 0;
    long skipped = 0;
    for (Pending fix : pending) {
      if (leave.test(fix.change().key())) {
        skipped++;
      } else if (fix.fix() == Fix.DELETE) {
        deletes.add(fix.change());
      } else {
        upserts.add(fix.change());
        inserts += fix.fix() == Fix.INSERT ? 1 : 0;
      }
    }
    writer.delete(connection, deletes);
    writer.upsert(connection, upserts);
    connection.commit();
    deleted += deletes.size();
    inserted += inserts;
    updated += upserts.size() - inserts;
    leftAlone += skipped;
  }

  private void rollbackQuietly(Exception cause) {
    try {
      connection.rollback();
    } catch (SQLException rollback) {
      cause.addSuppressed(rollback);
    }
  }

  /** Returns what was repaired so far (call after {@link #flush}). */
  public Counts counts() {
    return new Counts(inserted, updated, deleted, leftAlone);
  }
}
