package io.kv2pg;

/**
 * Turns one stored entry into the parameters of a tree mapping's insert (upsert) statement.
 *
 * <p>Called on kv2pg's writer thread, once per key and transaction after per-key coalescing, so it
 * must be a pure function of its arguments. The arrays are kv2pg's own: read them, do not keep
 * them. An exception thrown here stops the replication in state {@link ReplicationState#FAILED}
 * with a {@link ReplicationException} naming the mapping, the key and the sequence number.
 */
@FunctionalInterface
public interface InsertParameters {
  /**
   * Returns the parameters for the entry.
   *
   * @param key the whole key, prefix included; never {@code null}
   * @param value the value; never {@code null}
   * @return the parameters; never {@code null}
   */
  Params apply(byte[] key, byte[] value);
}
