package io.kv2pg;

import io.kv2pg.internal.postgres.CheckpointStore;
import io.kv2pg.internal.postgres.PostgresConnector;
import io.kv2pg.internal.postgres.SqlStates;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * What a PostgreSQL database records about kv2pg's replications: read every replication's
 * checkpoint, failure and copy progress, and reset (or forget) a replication or one of its
 * mappings so that its next start copies again. The supported way to reach kv2pg's own tables; their layout
 * is kv2pg's to change.
 *
 * <pre>{@code
 * ReplicationRecords records = ReplicationRecords.of("jdbc:postgresql://localhost:5432/app?user=app");
 * for (ReplicationRecord record : records.list()) {
 *   System.out.println(record.name() + " " + record.appliedSequence() + " " + record.failure());
 * }
 * records.reset("orders");              // the next start of "orders" copies every mapping again
 * records.reset("orders", "orders-cf");  // the next start copies only that mapping again
 * }</pre>
 *
 * <p>A database kv2pg never ran against (without kv2pg's tables) records nothing: {@link #list()}
 * is empty and {@link #read} is empty; reading never creates the tables.
 *
 * <p>Every method opens a connection of its own, works in one transaction and closes the
 * connection before it returns; no method leaves locks or open transactions behind. Errors
 * reaching or querying Postgres are thrown as {@link ReplicationException}, whose message names
 * the database with every password masked. Names are compared exactly; a name no replication
 * could have simply matches nothing.
 *
 * <p>Immutable and thread-safe: one instance may serve many threads at once.
 */
public final class ReplicationRecords {
  private final PostgresConnector postgres;

  private ReplicationRecords(PostgresConnector postgres) {
    this.postgres = postgres;
  }

  /**
   * Returns the records of the database at a pgjdbc URL, such as {@code
   * jdbc:postgresql://localhost:5432/app?user=app&password=secret}. Connects only when a method
   * is called; the password is never logged or shown.
   *
   * @param jdbcUrl the database's JDBC URL; must not be {@code null}
   * @throws NullPointerException if {@code jdbcUrl} is {@code null}
   * @throws IllegalArgumentException if {@code jdbcUrl} is not a pgjdbc URL (the message names only
   *     its scheme)
   */
  public static ReplicationRecords of(String jdbcUrl) {
    return new ReplicationRecords(PostgresConnector.forUrl(PostgresConnector.requireUrl(jdbcUrl), "kv2pg-records"));
  }

  /**
   * Returns the records of the database an application's data source reaches. Each method takes
   * one connection from it, turns auto-commit off, and closes it before returning.
   *
   * @param dataSource the data source; must not be {@code null}
   * @throws NullPointerException if {@code dataSource} is {@code null}
   */
  public static ReplicationRecords of(DataSource dataSource) {
    Objects.requireNonNull(dataSource, "postgres dataSource must not be null");
    return new ReplicationRecords(PostgresConnector.forDataSource(dataSource));
  }

  /**
   * Returns every replication the database records, ordered by name, read in one transaction.
   *
   * @return the records; empty if there are none or kv2pg's tables do not exist; never {@code null}
   * @throws ReplicationException if Postgres cannot be reached or read
   */
  public List<ReplicationRecord> list() {
    return read(null, "read the replications");
  }

  /**
   * Returns what the database records about one replication name.
   *
   * @param name the replication's name ({@link Replication#name()}); must not be {@code null}
   * @return the record, or empty if the name has none or kv2pg's tables do not exist
   * @throws NullPointerException if {@code name} is {@code null}
   * @throws ReplicationException if Postgres cannot be reached or read
   */
  public Optional<ReplicationRecord> read(String name) {
    Objects.requireNonNull(name, "name must not be null");
    return read(name, "read replication '" + name + "'").stream().findFirst();
  }

  private List<ReplicationRecord> read(String name, String what) {
    try (Connection connection = postgres.open()) {
      connection.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
      try {
        return CheckpointStore.records(connection, name);
      } finally {
        connection.rollback();
      }
    } catch (SQLException e) {
      throw failed(what, e);
    }
  }

  /**
   * Returns the changes that replication {@code name} set aside because of their data ({@link
   * OnDataError#DEAD_LETTER}), ordered by mapping and key. To apply them again after fixing the
   * mapping or the data, use {@link Replication#retryDeadLetters()}.
   *
   * @param name the replication's name; must not be {@code null}
   * @return the dead letters; empty if there are none or kv2pg's tables do not exist
   * @throws NullPointerException if {@code name} is {@code null}
   * @throws ReplicationException if Postgres cannot be reached or read
   */
  public List<DeadLetter> deadLetters(String name) {
    Objects.requireNonNull(name, "name must not be null");
    try (Connection connection = postgres.open()) {
      try {
        return CheckpointStore.deadLetters(connection, name);
      } finally {
        connection.rollback();
      }
    } catch (SQLException e) {
      throw failed("read the dead letters of replication '" + name + "'", e);
    }
  }

  /**
   * Forgets a replication: deletes its checkpoint, every mapping's copy progress and the key ranges
   * its mappings claim in declared tables (so that another replication may then own those rows),
   * so that its next start copies every mapping again from a new store snapshot and then streams
   * from there.
   * The mapped tables are left as they are. The next start replaces the rows of a declared table
   * that holds rows in one transaction, as after {@link #reset(String)}; but since the records are
   * gone, it assumes statement mappings write empty tables: prefer {@link #reset(String)}.
   *
   * <p>Refuses while a runner holds the replication's lock; the check and the deletion are one
   * transaction that holds that lock, so no runner starts in between.
   *
   * @param name the replication's name; must not be {@code null}
   * @return whether anything was recorded (and is now forgotten)
   * @throws NullPointerException if {@code name} is {@code null}
   * @throws IllegalStateException if the replication is running; nothing is deleted
   * @throws ReplicationException if Postgres cannot be reached or written
   */
  public boolean forget(String name) {
    Objects.requireNonNull(name, "name must not be null");
    return forget(name, null, "forget replication '" + name + "'");
  }

  /**
   * Forgets one mapping's copy progress, so that the next start of the replication copies that
   * mapping again (after bringing the other, complete tables up to the copy's snapshot, as for a
   * mapping added to an existing replication) while the others go on streaming. The mapping's
   * table is left as it is; a declared table that holds rows is replaced in one transaction at the
   * next start, a statement mapping's table is assumed empty: prefer {@link #reset(String,
   * String)}.
   *
   * <p>Refuses while a runner holds the replication's lock, as {@link #forget(String)} does.
   *
   * @param name the replication's name; must not be {@code null}
   * @param mapping the mapping's name ({@link TreeMapping#name()}); must not be {@code null}
   * @return whether the mapping had copy progress (now forgotten)
   * @throws NullPointerException if {@code name} or {@code mapping} is {@code null}
   * @throws IllegalStateException if the replication is running; nothing is deleted
   * @throws ReplicationException if Postgres cannot be reached or written
   */
  public boolean forget(String name, String mapping) {
    Objects.requireNonNull(name, "name must not be null");
    Objects.requireNonNull(mapping, "mapping must not be null");
    return forget(name, mapping, "forget mapping '" + mapping + "' of replication '" + name + "'");
  }

  /**
   * Resets a replication so that its next start copies every mapping again from a new store
   * snapshot and streams from there, replacing the rows of the mapped tables in one transaction:
   * readers see the old rows until the new copy is complete, and rows whose keys left the store
   * are removed. Use it after a {@link SequenceGapException}, after restoring the store from a
   * backup, or to rebuild the tables. Forgets the checkpoint (the applied sequence and the last
   * failure) and marks every mapping's copy as to be made again; the records stay, so that kv2pg
   * knows the tables hold rows (statement mappings then need {@link
   * TreeMapping.Builder#clear(String)}). The tables are not touched now.
   *
   * <p>Refuses while a runner holds the replication's lock; the check and the reset are one
   * transaction that holds that lock, so no runner starts in between.
   *
   * @param name the replication's name; must not be {@code null}
   * @return whether the database recorded the replication (and it is now reset); {@code false}
   *     if it has no record, and nothing was done
   * @throws NullPointerException if {@code name} is {@code null}
   * @throws IllegalStateException if the replication is running; nothing is reset
   * @throws ReplicationException if Postgres cannot be reached or written
   */
  public boolean reset(String name) {
    Objects.requireNonNull(name, "name must not be null");
    return reset(name, null, "reset replication '" + name + "'");
  }

  /**
   * Resets one mapping's copy, so that the next start of the replication copies that mapping again
   * while the others stream on: first the other tables are brought up to the copy's snapshot, then
   * the mapping's table is cleared and filled in one transaction (readers see its old rows until
   * then; rows whose keys left the store are removed). Refuses while the replication runs, as
   * {@link #reset(String)} does.
   *
   * @param name the replication's name; must not be {@code null}
   * @param mapping the mapping's name ({@link TreeMapping#name()}); must not be {@code null}
   * @return whether the mapping had a copy record (now reset); {@code false} if it has none (it
   *     was never copied, so its next start copies it anyway), and nothing was done
   * @throws NullPointerException if {@code name} or {@code mapping} is {@code null}
   * @throws IllegalStateException if the replication is running; nothing is reset
   * @throws ReplicationException if Postgres cannot be reached or written
   */
  public boolean reset(String name, String mapping) {
    Objects.requireNonNull(name, "name must not be null");
    Objects.requireNonNull(mapping, "mapping must not be null");
    return reset(name, mapping, "reset mapping '" + mapping + "' of replication '" + name + "'");
  }

  private boolean reset(String name, String mapping, String what) {
    CheckpointStore.Forgotten reset;
    try (Connection connection = postgres.open()) {
      reset = new CheckpointStore(name).reset(connection, mapping);
    } catch (SQLException e) {
      throw failed(what, e);
    }
    if (reset == CheckpointStore.Forgotten.RUNNING) {
      throw new IllegalStateException("Cannot " + what + ": it is running against " + postgres.describe()
          + " (a process or RunningReplication holds its lock). Stop it first; nothing was reset.");
    }
    return reset == CheckpointStore.Forgotten.DELETED;
  }

  private boolean forget(String name, String mapping, String what) {
    CheckpointStore.Forgotten forgotten;
    try (Connection connection = postgres.open()) {
      forgotten = new CheckpointStore(name).forget(connection, mapping);
    } catch (SQLException e) {
      throw failed(what, e);
    }
    if (forgotten == CheckpointStore.Forgotten.RUNNING) {
      throw new IllegalStateException("Cannot " + what + ": it is running against " + postgres.describe()
          + " (a process or RunningReplication holds its lock). Stop it first; nothing was forgotten.");
    }
    return forgotten == CheckpointStore.Forgotten.DELETED;
  }

  private ReplicationException failed(String what, SQLException e) {
    return new ReplicationException(ReplicationException.Kind.POSTGRES, "Could not " + what + " in " + postgres.describe() + ": "
        + PostgresConnector.mask(SqlStates.describe(e)), e);
  }

  /** Returns where the records are read, with any password masked. */
  @Override
  public String toString() {
    return "ReplicationRecords[" + postgres.describe() + "]";
  }
}
