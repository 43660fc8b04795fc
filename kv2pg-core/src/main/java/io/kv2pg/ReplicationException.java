package io.kv2pg;

import java.util.HexFormat;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Why a replication stopped or could not start. Carries, where they are known, the mapping, the
 * tree (column family name), the key and the RocksDB sequence number involved; the message names
 * them too and says what to do.
 *
 * <p>Instances are immutable.
 */
public class ReplicationException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** What kind of cause stopped the replication, which decides what helps. */
  public enum Kind {
    /** The mapping, the table, the store's options or the builder's settings: change them. */
    CONFIGURATION,
    /** Another runner holds the replication's lock: stop it, or use another name. */
    ALREADY_RUNNING,
    /**
     * One key's value: the mapping cannot read it, or Postgres refuses its row. Fix the mapping or
     * the data; {@link #key()} and {@link #sequence()} say which.
     */
    DATA,
    /** The store's write-ahead log no longer holds what was not applied yet. */
    SEQUENCE_GAP,
    /** The RocksDB store: closed, replaced, unreadable, or holding a write kv2pg cannot replicate. */
    STORE,
    /** Postgres refused kv2pg's own work, or kept failing with a limit: see the SQLSTATE. */
    POSTGRES,
    /** Another runner took the replication over while this one had lost its session. */
    FENCED,
    /** The thread was interrupted. */
    INTERRUPTED,
    /** An error kv2pg did not expect: a bug, or an error of user code kv2pg calls. */
    INTERNAL
  }

  private final Kind kind;
  private final String mapping;
  private final String tree;
  private final byte[] key;
  private final long sequence;

  /** Creates an exception with no mapping, tree, key or sequence attached. */
  public ReplicationException(Kind kind, String message, Throwable cause) {
    this(kind, message, cause, null, null, null, -1);
  }

  /**
   * Creates an exception.
   *
   * @param kind what kind of cause it is; must not be {@code null}
   * @param message what happened and what to do; must not be {@code null}
   * @param cause the underlying error, or {@code null}
   * @param mapping the tree mapping's name, or {@code null}
   * @param tree the column family's name, or {@code null}
   * @param key the key involved (copied), or {@code null}
   * @param sequence the sequence number involved, or a negative number when there is none
   */
  public ReplicationException(Kind kind, String message, Throwable cause, String mapping, String tree,
      byte[] key, long sequence) {
    super(Objects.requireNonNull(message, "message"), cause);
    this.kind = Objects.requireNonNull(kind, "kind");
    this.mapping = mapping;
    this.tree = tree;
    this.key = key == null ? null : key.clone();
    this.sequence = sequence;
  }

  /** Returns what kind of cause this is; never {@code null}. */
  public Kind kind() {
    return kind;
  }

  /** Returns the name of the tree mapping involved, if one is. */
  public Optional<String> mapping() {
    return Optional.ofNullable(mapping);
  }

  /** Returns the name of the column family involved, if one is. */
  public Optional<String> tree() {
    return Optional.ofNullable(tree);
  }

  /** Returns a copy of the key involved, if one is. */
  public Optional<byte[]> key() {
    return Optional.ofNullable(key).map(byte[]::clone);
  }

  /** Returns the key involved as lower-case hex, if one is. */
  public Optional<String> keyHex() {
    return Optional.ofNullable(key).map(k -> HexFormat.of().formatHex(k));
  }

  /** Returns the RocksDB sequence number involved, if one is. */
  public OptionalLong sequence() {
    return sequence < 0 ? OptionalLong.empty() : OptionalLong.of(sequence);
  }
}
