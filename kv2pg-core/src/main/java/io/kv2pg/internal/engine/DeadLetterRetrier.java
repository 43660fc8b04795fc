package io.kv2pg.internal.engine;

import io.kv2pg.DeadLetter;
import io.kv2pg.DeadLetterRetry;
import io.kv2pg.ReplicationException;
import io.kv2pg.internal.change.Change;
import io.kv2pg.internal.change.Route;
import io.kv2pg.internal.postgres.CheckpointStore;
import io.kv2pg.internal.postgres.PostgresConnector;
import io.kv2pg.internal.postgres.SqlStates;
import io.kv2pg.internal.table.MappingPlan;
import io.kv2pg.internal.table.TableWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.time.Instant;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.Snapshot;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies a stopped replication's dead letters again, each from the store's current value of its
 * key (a delete when the key is gone), in a transaction of its own that also removes it; one that
 * fails again is kept with its new error. Holds the replication's lock throughout, so that no run
 * starts meanwhile, and requires Postgres to hold the store's latest sequence: the store's values
 * are then exactly what the tables should show, and no later change of the key waits in the log
 * (which would be applied a second time).
 *
 * <p>Not thread-safe: one call at a time.
 */
public final class DeadLetterRetrier {
  private static final Logger LOG = LoggerFactory.getLogger(DeadLetterRetrier.class);

  private final String name;
  private final RocksDB database;
  private final PostgresConnector postgres;
  private final List<MappingPlan> mappings;

  public DeadLetterRetrier(String name, RocksDB database, PostgresConnector postgres, List<MappingPlan> mappings) {
    this.name = name;
    this.database = database;
    this.postgres = postgres;
    this.mappings = List.copyOf(mappings);
  }

  /**
   * Retries every dead letter of the replication.
   *
   * @throws IllegalStateException if the replication is running or behind the store
   * @throws ReplicationException if Postgres cannot be reached
   */
  public DeadLetterRetry retry() {
    CheckpointStore checkpoints = new CheckpointStore(name);
    try (Connection connection = postgres.open()) {
      connection.setAutoCommit(false);
      CheckpointStore.createSchema(connection);
      if (!checkpoints.tryLock(connection)) {
        connection.rollback();
        throw new IllegalStateException("Cannot retry the dead letters of replication '" + name + "': it is"
            + " running against " + postgres.describe() + ". Stop it first; nothing was retried.");
      }
      try {
        return retryLocked(connection, checkpoints);
      } finally {
        connection.rollback();
        checkpoints.unlock(connection);
      }
    } catch (SQLException e) {
      throw new ReplicationException(ReplicationException.Kind.POSTGRES, "Could not retry the dead letters of"
          + " replication '" + name + "' in " + postgres.describe() + ": "
          + PostgresConnector.mask(SqlStates.describe(e)), e);
    }
  }

  private DeadLetterRetry retryLocked(Connection connection, CheckpointStore checkpoints) throws SQLException {
    List<DeadLetter> letters = CheckpointStore.deadLetters(connection, name);
    OptionalLong applied = checkpoints.appliedSequence(connection);
    connection.commit();
    if (letters.isEmpty()) {
      return new DeadLetterRetry(0, List.of());
    }
    Snapshot snapshot = database.getSnapshot();
    try (ReadOptions read = io.kv2pg.internal.rocksdb.SnapshotReads.readOptions(database, snapshot)) {
      long latest = snapshot.getSequenceNumber();
      if (applied.isEmpty() || applied.getAsLong() < latest) {
        throw new IllegalStateException("Cannot retry the dead letters of replication '" + name + "': Postgres"
            + " holds the store up to sequence " + (applied.isPresent() ? applied.getAsLong() : "(none)")
            + " but the store is at " + latest + ". Run the replication until it has caught up (kv2pg sync),"
            + " then retry; nothing was retried.");
      }
      List<Route> routes = MappingPlan.routes(mappings);
      Map<String, Integer> positions = new HashMap<>();
      for (int i = 0; i < mappings.size(); i++) {
        positions.put(mappings.get(i).name(), i);
      }
      Map<Integer, TableWriter> writers = new HashMap<>();
      int retried = 0;
      List<DeadLetter> remaining = new ArrayList<>();
      for (DeadLetter letter : letters) {
        Integer position = positions.get(letter.mapping());
        if (position == null) {
          remaining.add(letter);
          continue;
        }
        TableWriter writer = writers.computeIfAbsent(position, p -> mappings.get(p).writer(p));
        MappingPlan mapping = mappings.get(position);
        byte[] value = read(mapping, read, letter.key());
        Change change = new Change(routes.get(position), letter.key(), value, latest);
        DeadLetter failed = apply(connection, checkpoints, writer, letter, change);
        if (failed == null) {
          retried++;
        } else {
          remaining.add(failed);
        }
      }
      LOG.info("kv2pg[{}]: retried {} dead letter(s): {} applied, {} remain", name, letters.size(), retried,
          remaining.size());
      return new DeadLetterRetry(retried, remaining);
    } finally {
      database.releaseSnapshot(snapshot);
    }
  }

  private byte[] read(MappingPlan mapping, ReadOptions read, byte[] key) {
    try {
      return database.get(mapping.columnFamily(), read, key);
    } catch (RocksDBException e) {
      throw new ReplicationException(ReplicationException.Kind.STORE, "RocksDB failed to read key "
          + java.util.HexFormat.of().formatHex(key) + " of tree '" + mapping.treeName() + "': " + e.getMessage(), e);
    }
  }

  /** Applies one dead letter and removes it; returns it as recorded again if it failed. */
  private DeadLetter apply(Connection connection, CheckpointStore checkpoints, TableWriter writer, DeadLetter letter,
      Change change) throws SQLException {
    try {
      writer.prepare(connection);
      if (change.isDelete()) {
        writer.delete(connection, List.of(change));
      } else {
        writer.upsert(connection, List.of(change));
      }
      checkpoints.resolveDeadLetters(connection, letter.mapping(), List.of(letter.key()));
      connection.commit();
      return null;
    } catch (SQLException | ReplicationException e) {
      connection.rollback();
      if (e instanceof SQLException sql && SqlStates.isTransient(sql)) {
        throw sql;
      }
      String error = DeadLetterBook.reason(e);
      String sqlState = DeadLetterBook.sqlState(e);
      checkpoints.saveDeadLetter(connection, letter.mapping(), letter.key(), change.value(), letter.sequence(),
          error, sqlState);
      connection.commit();
      LOG.warn("kv2pg[{}]: dead letter of key {} in mapping '{}' failed again: {}", name, letter.keyHex(),
          letter.mapping(), error);
      return new DeadLetter(name, letter.mapping(), letter.key(), Optional.ofNullable(change.value()),
          letter.sequence(), error, Optional.ofNullable(sqlState), Instant.now());
    }
  }
}
