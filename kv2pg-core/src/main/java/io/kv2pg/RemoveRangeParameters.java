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
   * @param begin the first key removed (inclusive), prefix included; clipped to the mapping's
   *     prefix, so it may be the bare prefix
   * @param end the end of the range (exclusive), prefix included; clipped to the first key after
   *     the mapping's prefix, or {@code null} when the range has no end
   * @return the parameters; never {@code null}
   */
  Params apply(byte[] begin, byte[] end);
}
