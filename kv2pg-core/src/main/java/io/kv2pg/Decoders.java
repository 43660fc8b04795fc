package io.kv2pg;

import io.kv2pg.internal.decode.FieldDecoders;
import io.kv2pg.internal.decode.FieldDecoders.JsonKind;
import java.util.Objects;
import java.util.function.Function;

/**
 * Ready decoders for declared-table columns. A key column decodes the key after the mapping's
 * prefix; a value column decodes the value. Offsets count from there.
 *
 * <p>Bad input (too short, bad UTF-8, bad JSON, a JSON field of the wrong kind) stops the
 * replication with an error naming the mapping, the key, the column and the sequence number. A
 * missing JSON field, or JSON {@code null}, gives SQL {@code NULL}.
 */
public final class Decoders {
  private Decoders() {}

  /** Exactly 4 bytes, a big-endian signed integer: {@code integer}. */
  public static ColumnDecoder int32() {
    return new ColumnDecoder(FieldDecoders.integer(4, 0, false, true));
  }

  /** 4 bytes at {@code offset}, a big-endian signed integer: {@code integer}. */
  public static ColumnDecoder int32At(int offset) {
    return new ColumnDecoder(FieldDecoders.integer(4, checkOffset(offset), false, false));
  }

  /** Exactly 8 bytes, a big-endian signed integer: {@code bigint}. */
  public static ColumnDecoder int64() {
    return new ColumnDecoder(FieldDecoders.integer(8, 0, false, true));
  }

  /** 8 bytes at {@code offset}, a big-endian signed integer: {@code bigint}. */
  public static ColumnDecoder int64At(int offset) {
    return new ColumnDecoder(FieldDecoders.integer(8, checkOffset(offset), false, false));
  }

  /**
   * Exactly 4 bytes, a big-endian integer with its sign bit flipped, the encoding that sorts
   * negative numbers before positive ones byte-wise: {@code integer}.
   */
  public static ColumnDecoder int32Ordered() {
    return new ColumnDecoder(FieldDecoders.integer(4, 0, true, true));
  }

  /** As {@link #int32Ordered()}, 4 bytes at {@code offset}. */
  public static ColumnDecoder int32OrderedAt(int offset) {
    return new ColumnDecoder(FieldDecoders.integer(4, checkOffset(offset), true, false));
  }

  /** Exactly 8 bytes, a big-endian integer with its sign bit flipped: {@code bigint}. */
  public static ColumnDecoder int64Ordered() {
    return new ColumnDecoder(FieldDecoders.integer(8, 0, true, true));
  }

  /** As {@link #int64Ordered()}, 8 bytes at {@code offset}. */
  public static ColumnDecoder int64OrderedAt(int offset) {
    return new ColumnDecoder(FieldDecoders.integer(8, checkOffset(offset), true, false));
  }

  /** All the bytes as UTF-8 text: {@code text}. */
  public static ColumnDecoder utf8() {
    return new ColumnDecoder(FieldDecoders.utf8(0, -1));
  }

  /** The bytes from {@code offset} on as UTF-8 text: {@code text}. */
  public static ColumnDecoder utf8From(int offset) {
    return new ColumnDecoder(FieldDecoders.utf8(checkOffset(offset), -1));
  }

  /** {@code length} bytes at {@code offset} as UTF-8 text: {@code text}. */
  public static ColumnDecoder utf8At(int offset, int length) {
    return new ColumnDecoder(FieldDecoders.utf8(checkOffset(offset), checkLength(length)));
  }

  /** All the bytes, raw: {@code bytea}. */
  public static ColumnDecoder bytes() {
    return new ColumnDecoder(FieldDecoders.bytes(0, -1));
  }

  /** The bytes from {@code offset} on, raw: {@code bytea}. */
  public static ColumnDecoder bytesFrom(int offset) {
    return new ColumnDecoder(FieldDecoders.bytes(checkOffset(offset), -1));
  }

  /** {@code length} bytes at {@code offset}, raw: {@code bytea}. */
  public static ColumnDecoder bytesAt(int offset, int length) {
    return new ColumnDecoder(FieldDecoders.bytes(checkOffset(offset), checkLength(length)));
  }

  /** The whole bytes as one JSON document: {@code jsonb}. */
  public static ColumnDecoder json() {
    return new ColumnDecoder(FieldDecoders.jsonDocument());
  }

  /**
   * A JSON field as {@code text} (a string's content; other values as JSON text). The path is
   * dotted ({@code customer.name}) or a JSON Pointer ({@code /customer/name}).
   */
  public static ColumnDecoder jsonText(String path) {
    return json(path, JsonKind.TEXT);
  }

  /** A JSON integer field that fits 32 bits: {@code integer}. */
  public static ColumnDecoder jsonInt(String path) {
    return json(path, JsonKind.INTEGER);
  }

  /** A JSON integer field that fits 64 bits: {@code bigint}. */
  public static ColumnDecoder jsonLong(String path) {
    return json(path, JsonKind.BIGINT);
  }

  /** A JSON number field: {@code double precision}. */
  public static ColumnDecoder jsonDouble(String path) {
    return json(path, JsonKind.DOUBLE);
  }

  /** A JSON number field, exactly: {@code numeric}. */
  public static ColumnDecoder jsonNumeric(String path) {
    return json(path, JsonKind.NUMERIC);
  }

  /** A JSON boolean field: {@code boolean}. */
  public static ColumnDecoder jsonBoolean(String path) {
    return json(path, JsonKind.BOOLEAN);
  }

  /** A JSON field of any kind, kept as JSON: {@code jsonb}. */
  public static ColumnDecoder jsonDocument(String path) {
    return json(path, JsonKind.JSONB);
  }

  /**
   * A function of your own. It receives the bytes (a copy when they do not start at the array's
   * beginning) and returns {@code null} for SQL {@code NULL} or a value whose {@code toString()}
   * Postgres accepts as input for {@code postgresType} ({@code byte[]} for {@code bytea}).
   * Throw {@link IllegalArgumentException} for bad input.
   */
  public static ColumnDecoder custom(String postgresType, Function<byte[], Object> function) {
    Objects.requireNonNull(postgresType, "postgresType must not be null");
    Objects.requireNonNull(function, "function must not be null");
    if (postgresType.isBlank()) {
      throw new IllegalArgumentException("postgresType must not be blank");
    }
    return new ColumnDecoder(FieldDecoders.custom(postgresType, function));
  }

  private static ColumnDecoder json(String path, JsonKind kind) {
    Objects.requireNonNull(path, "path must not be null");
    if (path.isEmpty()) {
      throw new IllegalArgumentException("path must not be empty (use json() for the whole document)");
    }
    return new ColumnDecoder(FieldDecoders.jsonField(path, kind));
  }

  private static int checkOffset(int offset) {
    if (offset < 0) {
      throw new IllegalArgumentException("offset must not be negative but was " + offset);
    }
    return offset;
  }

  private static int checkLength(int length) {
    if (length < 0) {
      throw new IllegalArgumentException("length must not be negative but was " + length);
    }
    return length;
  }
}
