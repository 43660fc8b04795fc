package io.kv2pg.internal.engine;

import io.kv2pg.ReplicationException;
import io.kv2pg.internal.change.Change;
import io.kv2pg.internal.change.ChangeGroup;
import io.kv2pg.internal.change.Route;
import io.kv2pg.internal.postgres.CheckpointStore;
import io.kv2pg.internal.postgres.SqlStates;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dead letters of a run: the changes set aside because of their data ({@code
 * OnDataError.DEAD_LETTER}), and the keys that have one in Postgres. A set-aside change waits here
 * until the transaction that commits the rest of its write batch writes it; a transaction that
 * applies a key with a dead letter cleanly removes that dead letter, so the row shows the store.
 * Both happen in the transaction of the rows, through {@link #writeIn}, and take effect here once
 * it commits ({@link #committed}) or are dropped when it rolls back ({@link #rolledBack}).
 *
 * <p>Keys with a dead letter are kept in memory (loaded at start), so that a run without any
 * costs nothing per transaction.
 *
 * <p>Concurrency: writer thread only.
 */
final class DeadLetterBook {
  private static final Logger LOG = LoggerFactory.getLogger(DeadLetterBook.class);

  /** A change set aside, waiting for the transaction of its batch. */
  private record Letter(Change change, ReplicationException error) {}

  private final String name;
  private final boolean enabled;
  private final CheckpointStore checkpoints;
  private final Progress progress;
  /** Keys with a dead letter in Postgres, by mapping name. */
  private final Map<String, Set<ByteBuffer>> known = new HashMap<>();
  private final List<Letter> waiting = new ArrayList<>();
  /** What the open transaction wrote and removed, applied to {@link #known} once it commits. */
  private final List<Letter> written = new ArrayList<>();
  private final Map<String, List<byte[]>> resolved = new HashMap<>();

  DeadLetterBook(String name, boolean enabled, CheckpointStore checkpoints, Progress progress) {
    this.name = name;
    this.enabled = enabled;
    this.checkpoints = checkpoints;
    this.progress = progress;
  }

  /** Whether changes are set aside ({@code DEAD_LETTER}) rather than failing the run. */
  boolean enabled() {
    return enabled;
  }

  /** Reads the keys that have a dead letter; commits. */
  void load(Connection connection) throws SQLException {
    known.clear();
    checkpoints.deadLetterKeys(connection).forEach((mapping, keys) -> {
      Set<ByteBuffer> set = known.computeIfAbsent(mapping, m -> new HashSet<>());
      keys.forEach(key -> set.add(ByteBuffer.wrap(key)));
    });
    connection.commit();
  }

  /**
   * Sets {@code change} aside for {@code error}; it is written by the next transaction whose last
   * sequence reaches the change's.
   */
  void setAside(Change change, ReplicationException error) {
    if (!enabled) {
      throw new IllegalStateException("dead letters are off");
    }
    if (!isSetAside(change)) {
      waiting.add(new Letter(change, error));
    }
  }

  /** Whether {@code change} waits to be written as a dead letter (a retried transaction meets it again). */
  boolean isSetAside(Change change) {
    for (Letter letter : waiting) {
      Change waiting = letter.change();
      if (waiting.sequence() == change.sequence() && waiting.route().equals(change.route())
          && Arrays.equals(waiting.key(), change.key())) {
        return true;
      }
    }
    return false;
  }

  /**
   * Inside the transaction that applies {@code group}: writes the waiting dead letters of its
   * batches and removes those of the keys it applies.
   */
  void writeIn(Connection connection, ChangeGroup group) throws SQLException {
    for (Route route : group.routes()) {
      if (hasKnown(route.mappingName())) {
        List<Change> changes = new ArrayList<>(group.ranges(route));
        changes.addAll(group.latest(route));
        resolve(connection, route.mappingName(), changes);
      }
    }
    if (!waiting.isEmpty()) {
      writeWaiting(connection, group.lastSequence());
    }
  }

  private boolean hasKnown(String mapping) {
    Set<ByteBuffer> keys = known.get(mapping);
    return keys != null && !keys.isEmpty();
  }

  /** Inside a transaction of the initial copy: the same for one chunk of {@code route}. */
  void writeIn(Connection connection, Route route, List<Change> chunk, long sequence) throws SQLException {
    resolve(connection, route.mappingName(), chunk);
    writeWaiting(connection, sequence);
  }

  private void writeWaiting(Connection connection, long lastSequence) throws SQLException {
    for (Letter letter : waiting) {
      Change change = letter.change();
      if (change.sequence() <= lastSequence && !written.contains(letter)) {
        checkpoints.saveDeadLetter(connection, change.route().mappingName(), change.key(),
            change.isDelete() ? null : change.value(), change.sequence(), reason(letter.error()),
            sqlState(letter.error()));
        written.add(letter);
      }
    }
  }

  /** Postgres's refusal behind {@code error}, or {@code null} when the mapping failed. */
  private static SQLException refusal(Throwable error) {
    for (Throwable cause = error; cause != null; cause = cause.getCause()) {
      if (cause instanceof SQLException sql) {
        return sql;
      }
    }
    return null;
  }

  /** What failed, for a dead letter: without the advice of a replication that stops. */
  static String reason(Throwable error) {
    SQLException refusal = refusal(error);
    if (refusal != null) {
      return "Postgres refused the row: " + SqlStates.describe(refusal);
    }
    return error.getCause() != null ? "the mapping failed: " + error.getCause() : error.getMessage();
  }

  /** Postgres's SQLSTATE behind {@code error}, or {@code null} when the mapping failed. */
  static String sqlState(Throwable error) {
    SQLException refusal = refusal(error);
    return refusal == null ? null : refusal.getSQLState();
  }

  private void resolve(Connection connection, String mapping, Collection<Change> changes) throws SQLException {
    if (!hasKnown(mapping)) {
      return;
    }
    Set<ByteBuffer> keys = known.get(mapping);
    List<byte[]> applied = new ArrayList<>();
    for (ByteBuffer key : keys) {
      byte[] bytes = key.array();
      for (Change change : changes) {
        if (covers(change, bytes) && !isWaiting(mapping, bytes)) {
          applied.add(bytes);
          break;
        }
      }
    }
    if (!applied.isEmpty()) {
      checkpoints.resolveDeadLetters(connection, mapping, applied);
      resolved.computeIfAbsent(mapping, m -> new ArrayList<>()).addAll(applied);
    }
  }

  private boolean isWaiting(String mapping, byte[] key) {
    for (Letter letter : this.waiting) {
      if (letter.change().route().mappingName().equals(mapping) && Arrays.equals(letter.change().key(), key)) {
        return true;
      }
    }
    return false;
  }

  private static boolean covers(Change change, byte[] key) {
    if (!change.isRangeDelete()) {
      return Arrays.equals(change.key(), key);
    }
    byte[] end = change.rangeEnd();
    return Arrays.compareUnsigned(key, change.key()) >= 0 && (end == null || Arrays.compareUnsigned(key, end) < 0);
  }

  /** The transaction committed: what it wrote and removed is so. */
  void committed() {
    resolved.forEach((mapping, keys) -> {
      Set<ByteBuffer> set = known.get(mapping);
      keys.forEach(key -> set.remove(ByteBuffer.wrap(key)));
      LOG.info("kv2pg[{}]: {} dead letter(s) of mapping '{}' resolved: their keys were applied cleanly", name,
          keys.size(), mapping);
    });
    resolved.clear();
    for (Letter letter : written) {
      Change change = letter.change();
      known.computeIfAbsent(change.route().mappingName(), m -> new HashSet<>()).add(ByteBuffer.wrap(change.key()));
      waiting.remove(letter);
      progress.deadLettered();
      LOG.warn("kv2pg[{}]: dead letter: {} of key {} in mapping '{}' at sequence {} set aside: {}", name,
          change.isDelete() ? "the delete" : "the value", HexFormat.of().formatHex(change.key()),
          change.route().mappingName(), change.sequence(), letter.error().getMessage());
    }
    written.clear();
  }

  /** The transaction rolled back: nothing it did is so; the waiting letters wait on. */
  void rolledBack() {
    resolved.clear();
    written.clear();
  }
}
