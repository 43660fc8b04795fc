package io.kv2pg.internal.table;

import com.fasterxml.jackson.core.io.NumberOutput;
import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.util.HexFormat;

/**
 * Writes values in Postgres's text input format.
 */
public final class PgText {
  private static final HexFormat HEX = HexFormat.of();

  private PgText() {}

  /** Returns the value's text form that Postgres parses back for its type; {@code null} stays. */
  public static String format(Object value) {
    if (value == null) {
      return null;
    }
    if (value instanceof String text) {
      return text;
    }
    if (value instanceof byte[] bytes) {
      return "\\x" + HEX.formatHex(bytes);
    }
    if (value instanceof Boolean bool) {
      return bool ? "t" : "f";
    }
    if (value instanceof Double number) {
      return NumberOutput.toString(number, true); // Shortest form (Schubfach), faster than the JDK's.
    }
    if (value instanceof BigDecimal decimal) {
      return decimal.toPlainString();
    }
    if (value instanceof JsonNode json) {
      return json.toString();
    }
    return value.toString();
  }

  /** Quotes an identifier for SQL: {@code "name"}, doubling embedded quotes. */
  public static String quoteIdentifier(String identifier) {
    return "\"" + identifier.replace("\"", "\"\"") + "\"";
  }

  /**
   * Returns a {@code bytea} constant for SQL, {@code decode('0a1b', 'hex')}: hex digits only, so it
   * reads the same whatever {@code standard_conforming_strings} is, and the planner folds it into
   * a constant that an index condition can use.
   */
  public static String byteaLiteral(byte[] bytes) {
    return "decode('" + java.util.HexFormat.of().formatHex(bytes) + "', 'hex')";
  }
}
