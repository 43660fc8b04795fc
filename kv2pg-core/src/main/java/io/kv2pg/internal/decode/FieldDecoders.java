package io.kv2pg.internal.decode;

import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.Function;

/** The decoders behind {@code io.kv2pg.Decoders}. */
public final class FieldDecoders {
  private FieldDecoders() {}

  /** A fixed-width big-endian integer at an offset. */
  public static FieldDecoder integer(int width, int offset, boolean orderPreserving, boolean whole) {
    return new FixedInteger(width, offset, orderPreserving, whole);
  }

  /** Bytes from an offset, {@code length} of them or all the rest when negative. */
  public static FieldDecoder bytes(int offset, int length) {
    return new Simple("bytea", "bytes" + range(offset, length),
        input -> Arrays.copyOfRange(input.bytes(), start(input, offset, length), end(input, offset, length)));
  }

  /** UTF-8 text from an offset, {@code length} bytes of it or all the rest when negative. */
  public static FieldDecoder utf8(int offset, int length) {
    return new Simple("text", "UTF-8 text" + range(offset, length), input -> {
      int start = start(input, offset, length);
      int end = end(input, offset, length);
      try {
        CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT)
            .decode(ByteBuffer.wrap(input.bytes(), start, end - start));
        String text = chars.toString();
        if (text.indexOf('\0') >= 0) {
          throw new IllegalArgumentException("text holds a NUL character, which Postgres text cannot store");
        }
        return text;
      } catch (CharacterCodingException e) {
        throw new IllegalArgumentException("not valid UTF-8 (" + e + ")", e);
      }
    });
  }

  /** The whole input as one JSON document, for a {@code jsonb} column. */
  public static FieldDecoder jsonDocument() {
    return new WholeJson();
  }

  /** The kinds of JSON field a column can take. */
  public enum JsonKind {
    TEXT("text"), INTEGER("integer"), BIGINT("bigint"), DOUBLE("double precision"),
    NUMERIC("numeric"), BOOLEAN("boolean"), JSONB("jsonb");

    private final String postgresType;

    JsonKind(String postgresType) {
      this.postgresType = postgresType;
    }
  }

  /**
   * One field of a JSON document, by dotted path ({@code customer.name}) or JSON Pointer ({@code
   * /customer/name}). A missing field or a JSON {@code null} gives SQL {@code NULL}.
   */
  public static FieldDecoder jsonField(String path, JsonKind kind) {
    JsonPointer pointer = path.startsWith("/")
        ? JsonPointer.compile(path)
        : JsonPointer.compile("/" + String.join("/", Arrays.stream(path.split("\\.", -1))
            .map(part -> part.replace("~", "~0").replace("/", "~1")).toList()));
    return new JsonField(pointer, kind, "JSON field '" + path + "' as " + kind.postgresType, input -> {
      JsonNode node = input.json(pointer);
      if (node.isMissingNode() || node.isNull()) {
        return null;
      }
      return switch (kind) {
        case TEXT -> node.isValueNode() ? node.asText() : node.toString();
        case INTEGER -> {
          if (!node.isIntegralNumber() || !node.canConvertToInt()) {
            throw new IllegalArgumentException("field '" + path + "' is " + node + ", not a 32-bit integer");
          }
          yield node.intValue();
        }
        case BIGINT -> {
          if (!node.isIntegralNumber() || !node.canConvertToLong()) {
            throw new IllegalArgumentException("field '" + path + "' is " + node + ", not a 64-bit integer");
          }
          yield node.longValue();
        }
        case DOUBLE -> {
          if (!node.isNumber()) {
            throw new IllegalArgumentException("field '" + path + "' is " + node + ", not a number");
          }
          yield node.doubleValue();
        }
        case NUMERIC -> {
          if (!node.isNumber()) {
            throw new IllegalArgumentException("field '" + path + "' is " + node + ", not a number");
          }
          yield node.decimalValue();
        }
        case BOOLEAN -> {
          if (!node.isBoolean()) {
            throw new IllegalArgumentException("field '" + path + "' is " + node + ", not a boolean");
          }
          yield node.booleanValue();
        }
        case JSONB -> node;
      };
    });
  }

  /** A user's function of the input's bytes. */
  public static FieldDecoder custom(String postgresType, Function<byte[], Object> function) {
    Objects.requireNonNull(function, "function");
    return new Simple(postgresType, "custom decoder", input -> function.apply(
        input.offset() == 0 ? input.bytes() : Arrays.copyOfRange(input.bytes(), input.offset(), input.bytes().length)));
  }

  private static String range(int offset, int length) {
    if (offset == 0 && length < 0) {
      return "";
    }
    return length < 0 ? " from offset " + offset : " at offset " + offset + ", " + length + " bytes";
  }

  private static int start(FieldInput input, int offset, int length) {
    if (input.length() < offset + Math.max(0, length)) {
      throw new IllegalArgumentException("expected at least " + (offset + Math.max(0, length))
          + " bytes but found " + input.length());
    }
    return input.offset() + offset;
  }

  private static int end(FieldInput input, int offset, int length) {
    return length < 0 ? input.bytes().length : input.offset() + offset + length;
  }

  /** The whole input as one JSON document. */
  record WholeJson() implements FieldDecoder {
    @Override
    public String postgresType() {
      return "jsonb";
    }

    @Override
    public String describe() {
      return "JSON document";
    }

    @Override
    public Object decode(FieldInput input) {
      return input.json();
    }
  }

  /** One field of a JSON document, which {@link JsonFieldPlan} finds without building a tree. */
  record JsonField(JsonPointer pointer, JsonKind kind, String describe,
      Function<FieldInput, Object> function) implements FieldDecoder {
    @Override
    public String postgresType() {
      return kind.postgresType;
    }

    @Override
    public Object decode(FieldInput input) {
      return function.apply(input);
    }
  }

  /** A fixed-width big-endian integer, 4 or 8 bytes, decoded without boxing when it is encoded. */
  private record FixedInteger(int width, int offset, boolean orderPreserving, boolean whole)
      implements IntegerFieldDecoder {
    @Override
    public String postgresType() {
      return width == 4 ? "integer" : "bigint";
    }

    @Override
    public String describe() {
      return (orderPreserving ? "order-preserving " : "") + "int" + (width * 8)
          + (whole ? "" : " at offset " + offset);
    }

    @Override
    public Object decode(FieldInput input) {
      long value = decodeLong(input);
      return width == 4 ? Integer.valueOf((int) value) : Long.valueOf(value);
    }

    @Override
    public long decodeLong(FieldInput input) {
      int available = input.length() - offset;
      if (whole ? available != width : available < width) {
        throw new IllegalArgumentException("expected " + (whole ? "exactly " : "at least ") + width
            + " bytes" + (offset > 0 ? " at offset " + offset : "") + " but found " + Math.max(0, available));
      }
      ByteBuffer buffer = ByteBuffer.wrap(input.bytes(), input.offset() + offset, width);
      if (width == 4) {
        int value = buffer.getInt();
        return orderPreserving ? value ^ Integer.MIN_VALUE : value;
      }
      long value = buffer.getLong();
      return orderPreserving ? value ^ Long.MIN_VALUE : value;
    }
  }

  private record Simple(String postgresType, String describe, Function<FieldInput, Object> function)
      implements FieldDecoder {
    @Override
    public Object decode(FieldInput input) {
      return function.apply(input);
    }
  }
}
