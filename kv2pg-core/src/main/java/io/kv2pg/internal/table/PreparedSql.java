package io.kv2pg.internal.table;

import io.kv2pg.Params;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;

/**
 * A user's statement rewritten for JDBC: Postgres-style {@code $n} placeholders become {@code ?},
 * and each {@code ?} remembers which parameter it takes ({@code $n} may repeat or come in any
 * order). Text inside quotes, quoted identifiers, comments and dollar-quoted strings is copied
 * as it is. In a statement that uses {@code $n}, a bare {@code ?} is a Postgres operator (such as
 * jsonb's) and is escaped for JDBC; in one that does not, {@code ?} is a placeholder and {@code ??}
 * the operator, as in JDBC. Immutable and thread-safe.
 */
public final class PreparedSql {
  private final String original;
  private final String jdbcSql;
  private final int[] parameterOrder;
  private final int parameterCount;

  private PreparedSql(String original, String jdbcSql, int[] parameterOrder) {
    this.original = original;
    this.jdbcSql = jdbcSql;
    this.parameterOrder = parameterOrder;
    int count = 0;
    for (int index : parameterOrder) {
      count = Math.max(count, index + 1);
    }
    this.parameterCount = count;
  }

  /**
   * Parses a statement.
   *
   * @throws IllegalArgumentException if a quote or comment is not closed, or {@code $0} is used
   */
  public static PreparedSql parse(String sql) {
    return new Parser(sql).parse();
  }

  /** Returns the statement as written by the user. */
  public String original() {
    return original;
  }

  /** Returns the statement with JDBC placeholders. */
  public String jdbcSql() {
    return jdbcSql;
  }

  /** Returns how many parameter values the statement takes. */
  public int parameterCount() {
    return parameterCount;
  }

  /**
   * Binds the values to the statement's placeholders.
   *
   * @throws IllegalArgumentException if the number of values does not match the placeholders
   */
  public void bind(PreparedStatement statement, Params params) throws SQLException {
    if (params.size() != parameterCount) {
      throw new IllegalArgumentException(
          "the statement takes " + parameterCount + " parameter(s) but the function returned "
              + params.size() + ": " + original);
    }
    for (int i = 0; i < parameterOrder.length; i++) {
      Object value = params.get(parameterOrder[i]);
      if (value == null) {
        statement.setNull(i + 1, Types.NULL);
      } else if (value instanceof byte[] bytes) {
        statement.setBytes(i + 1, bytes);
      } else {
        statement.setObject(i + 1, value);
      }
    }
  }

  @Override
  public String toString() {
    return original;
  }

  private static final class Parser {
    private final String sql;
    private final StringBuilder out;
    private final java.util.List<Integer> order = new java.util.ArrayList<>();
    private boolean sawDollar;
    private int pos;

    Parser(String sql) {
      this.sql = sql;
      this.out = new StringBuilder(sql.length() + 8);
    }

    PreparedSql parse() {
      // Two passes: the first learns whether $n placeholders are used, the second rewrites.
      scan();
      out.setLength(0);
      order.clear();
      pos = 0;
      scan();
      return new PreparedSql(sql, out.toString(), order.stream().mapToInt(Integer::intValue).toArray());
    }

    private void scan() {
      int questionMarks = 0;
      while (pos < sql.length()) {
        char c = sql.charAt(pos);
        if (c == '\'') {
          copyQuoted('\'', isEscapeString());
        } else if (c == '"') {
          copyQuoted('"', false);
        } else if (c == '-' && peek(1) == '-') {
          int end = sql.indexOf('\n', pos);
          copyTo(end < 0 ? sql.length() : end + 1);
        } else if (c == '/' && peek(1) == '*') {
          copyBlockComment();
        } else if (c == '$' && Character.isDigit(peek(1)) && !identifierCharBefore()) {
          int end = pos + 1;
          while (end < sql.length() && Character.isDigit(sql.charAt(end))) {
            end++;
          }
          int number = Integer.parseInt(sql.substring(pos + 1, end));
          if (number < 1) {
            throw new IllegalArgumentException("placeholder $0 is not valid (they start at $1): " + sql);
          }
          sawDollar = true;
          out.append('?');
          order.add(number - 1);
          pos = end;
        } else if (c == '$' && dollarTagEnd() > 0) {
          copyDollarQuoted();
        } else if (c == '?') {
          if (peek(1) == '?') {
            out.append("??");
            pos += 2;
          } else if (sawDollar) {
            out.append("??");
            pos++;
          } else {
            out.append('?');
            order.add(questionMarks++);
            pos++;
          }
        } else {
          out.append(c);
          pos++;
        }
      }
    }

    private char peek(int offset) {
      int at = pos + offset;
      return at < sql.length() ? sql.charAt(at) : '\0';
    }

    private boolean identifierCharBefore() {
      if (pos == 0) {
        return false;
      }
      char before = sql.charAt(pos - 1);
      return Character.isLetterOrDigit(before) || before == '_';
    }

    private boolean isEscapeString() {
      if (pos == 0) {
        return false;
      }
      char before = sql.charAt(pos - 1);
      return (before == 'e' || before == 'E') && (pos < 2 || !Character.isLetterOrDigit(sql.charAt(pos - 2)));
    }

    private void copyTo(int end) {
      out.append(sql, pos, end);
      pos = end;
    }

    private void copyQuoted(char quote, boolean backslashEscapes) {
      int i = pos + 1;
      while (i < sql.length()) {
        char c = sql.charAt(i);
        if (backslashEscapes && c == '\\') {
          i += 2;
          continue;
        }
        if (c == quote) {
          if (i + 1 < sql.length() && sql.charAt(i + 1) == quote) {
            i += 2;
            continue;
          }
          copyTo(i + 1);
          return;
        }
        i++;
      }
      throw new IllegalArgumentException("unterminated " + quote + " quote in statement: " + sql);
    }

    private void copyBlockComment() {
      int depth = 0;
      int i = pos;
      while (i < sql.length()) {
        if (sql.startsWith("/*", i)) {
          depth++;
          i += 2;
        } else if (sql.startsWith("*/", i)) {
          depth--;
          i += 2;
          if (depth == 0) {
            copyTo(i);
            return;
          }
        } else {
          i++;
        }
      }
      throw new IllegalArgumentException("unterminated /* comment in statement: " + sql);
    }

    /** Returns the index after a dollar-quote tag starting at pos ($$ or $tag$), or -1. */
    private int dollarTagEnd() {
      int i = pos + 1;
      if (identifierCharBefore()) {
        return -1;
      }
      while (i < sql.length()) {
        char c = sql.charAt(i);
        if (c == '$') {
          return i + 1;
        }
        if (!(Character.isLetter(c) || c == '_' || (i > pos + 1 && Character.isDigit(c)))) {
          return -1;
        }
        i++;
      }
      return -1;
    }

    private void copyDollarQuoted() {
      int tagEnd = dollarTagEnd();
      String tag = sql.substring(pos, tagEnd);
      int close = sql.indexOf(tag, tagEnd);
      if (close < 0) {
        throw new IllegalArgumentException("unterminated " + tag + " dollar quote in statement: " + sql);
      }
      copyTo(close + tag.length());
    }
  }
}
