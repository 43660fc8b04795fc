package io.kv2pg.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;

/**
 * The parameter function a user writes for the baselines that take statements (naive-jdbc,
 * crate-style): key and value bytes to the columns of {@link Rows.Kind#columns()}.
 */
final class Decode {
  private static final ObjectMapper JSON = new ObjectMapper();

  private Decode() {}

  static Object[] params(Rows.Kind kind, byte[] key, byte[] value) {
    long id = ByteBuffer.wrap(key).getLong();
    if (kind == Rows.Kind.NARROW) {
      return new Object[] {id, ByteBuffer.wrap(value).getLong(), key};
    }
    try {
      JsonNode node = JSON.readTree(value);
      return new Object[] {id, node.get("customer").asText(), node.get("qty").intValue(),
          node.get("price").doubleValue(), node.get("active").booleanValue(), node.get("ts").longValue(), key};
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
