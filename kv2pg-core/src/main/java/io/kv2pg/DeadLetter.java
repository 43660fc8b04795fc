package io.kv2pg;

import java.time.Instant;
import java.util.HexFormat;
import java.util.Objects;
import java.util.Optional;

/**
 * A change that a replication set aside because of its data ({@link OnDataError#DEAD_LETTER}), as
 * {@link ReplicationRecords#deadLetters(String)} read it. One per mapping and key: a later failure
 * of the same key replaces it, a later clean change of the key resolves (removes) it.
 *
 * <p>Immutable and thread-safe (the arrays are copied in and out).
 *
 * @param replication the replication's name
 * @param mapping the tree mapping's name
 * @param key the entry's key
 * @param value the value that failed; empty for a delete
 * @param sequence the RocksDB sequence number of the change
 * @param error what failed, as the {@link ReplicationException} said it
 * @param sqlState Postgres's SQLSTATE when Postgres refused the row; empty when the mapping failed
 * @param recordedAt when it was set aside
 */
public record DeadLetter(String replication, String mapping, byte[] key, Optional<byte[]> value, long sequence,
    String error, Optional<String> sqlState, Instant recordedAt) {

  public DeadLetter {
    Objects.requireNonNull(replication, "replication");
    Objects.requireNonNull(mapping, "mapping");
    key = Objects.requireNonNull(key, "key").clone();
    value = Objects.requireNonNull(value, "value").map(byte[]::clone);
    Objects.requireNonNull(error, "error");
    Objects.requireNonNull(sqlState, "sqlState");
    Objects.requireNonNull(recordedAt, "recordedAt");
  }

  @Override
  public byte[] key() {
    return key.clone();
  }

  @Override
  public Optional<byte[]> value() {
    return value.map(byte[]::clone);
  }

  /** Returns the key in hex. */
  public String keyHex() {
    return HexFormat.of().formatHex(key);
  }

  @Override
  public String toString() {
    return "DeadLetter[" + replication + "/" + mapping + ", key " + keyHex() + ", sequence " + sequence
        + (value.isEmpty() ? ", delete" : "") + ": " + error + "]";
  }
}
