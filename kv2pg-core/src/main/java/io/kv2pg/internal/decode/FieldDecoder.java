package io.kv2pg.internal.decode;

/**
 * Decodes one column's value from a {@link FieldInput}. Implementations are immutable and
 * thread-safe; they throw {@link IllegalArgumentException} with a short reason for bad input.
 */
public interface FieldDecoder {

  /** Returns the Postgres type of the column, such as {@code bigint}. */
  String postgresType();

  /** Describes the decoder for messages, such as {@code int64 at offset 0}. */
  String describe();

  /**
   * Returns the column's value: {@code null}, a {@code String}, {@code byte[]}, {@code Integer},
   * {@code Long}, {@code Double}, {@code Boolean}, {@code BigDecimal}, a {@code JsonNode} (for
   * {@code jsonb}) or any object whose {@code toString()} Postgres accepts for the type.
   */
  Object decode(FieldInput input);
}
