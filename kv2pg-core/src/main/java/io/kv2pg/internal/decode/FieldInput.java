package io.kv2pg.internal.decode;

import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;

/**
 * The bytes a column is decoded from: the key after the prefix, or the value. Parses the bytes as
 * JSON at most once however many columns read JSON fields from them. Not thread-safe.
 */
public final class FieldInput {
  /** Keeps every number exactly as written (no rounding through double), for jsonb and numeric. */
  private static final ObjectMapper JSON = JsonMapper.builder()
      .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
      .disable(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES)
      .build();

  private final JsonFieldPlan plan;
  private byte[] bytes;
  private int offset;
  private JsonNode json;
  private JsonNode[] fields;
  private IOException jsonError;

  /** Creates an input that parses JSON into a tree when a column asks for a field. */
  public FieldInput() {
    this(null);
  }

  /**
   * Creates an input that finds the plan's fields in one streaming pass.
   *
   * @param plan the fields the columns will ask for, or {@code null} to parse into a tree
   */
  public FieldInput(JsonFieldPlan plan) {
    this.plan = plan;
  }

  /** Points the input at new bytes, from {@code offset} on. */
  public FieldInput reset(byte[] bytes, int offset) {
    this.bytes = bytes;
    this.offset = offset;
    this.json = null;
    this.fields = null;
    this.jsonError = null;
    return this;
  }

  /** Returns the underlying array; read it from {@link #offset()} on. */
  public byte[] bytes() {
    return bytes;
  }

  /** Returns where the input starts in {@link #bytes()}. */
  public int offset() {
    return offset;
  }

  /** Returns how many bytes the input has. */
  public int length() {
    return bytes.length - offset;
  }

  /**
   * Returns the input parsed as one JSON document.
   *
   * @throws IllegalArgumentException if it is not valid JSON
   */
  public JsonNode json() {
    if (json == null && jsonError == null) {
      try {
        json = JSON.readTree(bytes, offset, bytes.length - offset);
        if (json == null || json.isMissingNode()) {
          jsonError = new IOException("empty input");
        }
      } catch (IOException e) {
        jsonError = e;
      }
    }
    throwIfInvalid();
    return json;
  }

  /**
   * Returns the node at {@code pointer} in the input's JSON document, {@link
   * com.fasterxml.jackson.databind.node.MissingNode} if there is none.
   *
   * @throws IllegalArgumentException if the input is not valid JSON
   */
  public JsonNode json(JsonPointer pointer) {
    int slot = plan == null || json != null ? -1 : plan.slot(pointer);
    if (slot < 0) {
      return json().at(pointer);
    }
    if (fields == null && jsonError == null) {
      try {
        fields = plan.extract(JSON, bytes, offset, bytes.length - offset);
      } catch (IOException e) {
        jsonError = e;
      }
    }
    throwIfInvalid();
    return fields[slot];
  }

  private void throwIfInvalid() {
    if (jsonError != null) {
      throw new IllegalArgumentException("not valid JSON: " + jsonError.getMessage().split("\n")[0], jsonError);
    }
  }
}
