package io.kv2pg;

import java.util.HexFormat;
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

  private final String mapping;
  private final String tree;
  private final byte[] key;
  private final long sequence;

  /** Creates an exception with no mapping, tree, key or sequence attached. */
  public ReplicationException(String message, Throwable cause) {
    this(message, cause, null, null, null, -1);
  }

  /**
   * Creates an exception.
   *
   * @param message what happened and what to do; must not be {@code null}
   * @param cause the underlying error, or {@code null}
   * @param mapping the tree mapping's name, or {@code null}
   * @param tree the column family's name, or {@code null}
   * @param key the key involved (copied), or {@code null}
   * @param sequence the sequence number involved, or a negative number when there is none
   */
  public ReplicationException(
      String message, Throwable cause, String mapping, String tree, byte[] key, long sequence) {
    super(message, cause);
    this.mapping = mapping;
    this.tree = tree;
    this.key = key == null ? null : key.clone();
    this.sequence = sequence;
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
