package io.kv2pg;

/**
 * Turns a removed key into the parameters of a tree mapping's remove statement.
 *
 * <p>The same contract as {@link InsertParameters}: a pure function, called on kv2pg's writer
 * thread; an exception fails the replication with the key and sequence named.
 */
@FunctionalInterface
public interface RemoveParameters {
  /**
   * Returns the parameters for the removed key.
   *
   * @param key the whole key, prefix included; never {@code null}
   * @return the parameters; never {@code null}
   */
  Params apply(byte[] key);
}
