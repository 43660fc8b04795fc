package io.kv2pg.sink;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.util.HexFormat;

/**
 * Writes values in Postgres's text input format, and escapes them for COPY's text format.
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
    if (value instanceof BigDecimal decimal) {
      return decimal.toPlainString();
    }
    if (value instanceof JsonNode json) {
      return json.toString();
    }
    return value.toString();
  }

  /** Appends a value to a COPY text-format row, escaped; {@code null} becomes {@code \N}. */
  public static void appendCopyField(StringBuilder row, String text) {
    if (text == null) {
      row.append("\\N");
      return;
    }
    int run = 0; // the text between escapes is appended in bulk
    for (int i = 0; i < text.length(); i++) {
      String escape = switch (text.charAt(i)) {
        case '\\' -> "\\\\";
        case '\t' -> "\\t";
        case '\n' -> "\\n";
        case '\r' -> "\\r";
        default -> null;
      };
      if (escape != null) {
        row.append(text, run, i).append(escape);
        run = i + 1;
      }
    }
    row.append(text, run, text.length());
  }

  /** Quotes an identifier for SQL: {@code "name"}, doubling embedded quotes. */
  public static String quoteIdentifier(String identifier) {
    return "\"" + identifier.replace("\"", "\"\"") + "\"";
  }
}
