package io.kv2pg.cli;

import java.io.PrintWriter;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/** Prints rows as a text table, like psql does. */
final class TablePrinter {
  private TablePrinter() {}

  /** Runs a query and prints its result under a title. */
  static void query(PrintWriter out, Connection connection, String title, String sql) throws SQLException {
    try (Statement statement = connection.createStatement(); ResultSet rows = statement.executeQuery(sql)) {
      ResultSetMetaData meta = rows.getMetaData();
      List<String> header = new ArrayList<>();
      List<Boolean> numeric = new ArrayList<>();
      for (int i = 1; i <= meta.getColumnCount(); i++) {
        header.add(meta.getColumnLabel(i));
        numeric.add(isNumeric(meta.getColumnType(i)));
      }
      List<List<String>> body = new ArrayList<>();
      while (rows.next()) {
        List<String> row = new ArrayList<>();
        for (int i = 1; i <= meta.getColumnCount(); i++) {
          Object value = rows.getObject(i);
          row.add(value == null ? "" : value instanceof BigDecimal decimal ? decimal.toPlainString() : value.toString());
        }
        body.add(row);
      }
      out.println();
      out.println(title);
      print(out, header, numeric, body);
    }
  }

  static void print(PrintWriter out, List<String> header, List<Boolean> numeric, List<List<String>> rows) {
    int[] widths = new int[header.size()];
    for (int i = 0; i < header.size(); i++) {
      widths[i] = header.get(i).length();
      for (List<String> row : rows) {
        widths[i] = Math.max(widths[i], row.get(i).length());
      }
    }
    StringBuilder line = new StringBuilder();
    StringBuilder rule = new StringBuilder();
    for (int i = 0; i < header.size(); i++) {
      line.append(i == 0 ? " " : " | ").append(center(header.get(i), widths[i]));
      rule.append(i == 0 ? "-" : "-+-").append("-".repeat(widths[i]));
    }
    out.println(line.toString().stripTrailing());
    out.println(rule.append('-'));
    for (List<String> row : rows) {
      StringBuilder text = new StringBuilder();
      for (int i = 0; i < header.size(); i++) {
        text.append(i == 0 ? " " : " | ").append(numeric.get(i) ? pad(row.get(i), widths[i], true)
            : pad(row.get(i), widths[i], false));
      }
      out.println(text.toString().stripTrailing());
    }
    out.println("(" + rows.size() + (rows.size() == 1 ? " row)" : " rows)"));
  }

  private static boolean isNumeric(int type) {
    return switch (type) {
      case java.sql.Types.BIGINT, java.sql.Types.INTEGER, java.sql.Types.SMALLINT, java.sql.Types.NUMERIC,
          java.sql.Types.DECIMAL, java.sql.Types.DOUBLE, java.sql.Types.REAL, java.sql.Types.FLOAT -> true;
      default -> false;
    };
  }

  private static String pad(String text, int width, boolean right) {
    String spaces = " ".repeat(Math.max(0, width - text.length()));
    return right ? spaces + text : text + spaces;
  }

  private static String center(String text, int width) {
    int left = (width - text.length()) / 2;
    return " ".repeat(Math.max(0, left)) + text + " ".repeat(Math.max(0, width - text.length() - left));
  }
}
