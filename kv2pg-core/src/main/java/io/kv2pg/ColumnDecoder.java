package io.kv2pg;

import io.kv2pg.internal.decode.FieldDecoder;

/**
 * How one column of a declared table is decoded from bytes (the key after the mapping's prefix,
 * or the value), and its Postgres type. Get one from {@link Decoders}. Immutable and thread-safe.
 */
public final class ColumnDecoder {
  private final FieldDecoder decoder;

  ColumnDecoder(FieldDecoder decoder) {
    this.decoder = decoder;
  }

  /** Returns the Postgres type of the column, such as {@code bigint}. */
  public String postgresType() {
    return decoder.postgresType();
  }

  FieldDecoder decoder() {
    return decoder;
  }

  @Override
  public String toString() {
    return decoder.describe() + " -> " + decoder.postgresType();
  }
}
