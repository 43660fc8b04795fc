package io.kv2pg.internal.decode;

/**
 * A decoder whose values are always integers: {@link #decodeLong} gives them without boxing, for
 * the COPY path, where a row of two such columns otherwise leaves two {@code Long}s behind.
 * {@link #decode} must return the same value, boxed.
 */
public interface IntegerFieldDecoder extends FieldDecoder {

  /**
   * Returns the column's value.
   *
   * @throws IllegalArgumentException with a short reason for bad input
   */
  long decodeLong(FieldInput input);
}
