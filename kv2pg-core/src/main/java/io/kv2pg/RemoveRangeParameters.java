package io.kv2pg;

/**
 * Turns a removed key range ({@code deleteRange}) into the parameters of a tree mapping's range
 * remove statement. The same contract as {@link InsertParameters}.
 */
@FunctionalInterface
public interface RemoveRangeParameters {
  /**
   * Returns the parameters for the removed range.
   *
   * @param begin the first key removed (inclusive), whole, as the application gave it
   * @param end the end of the range (exclusive), whole, as the application gave it
   * @return the parameters; never {@code null}
   */
  Params apply(byte[] begin, byte[] end);
}
