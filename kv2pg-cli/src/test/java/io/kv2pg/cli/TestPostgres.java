package io.kv2pg.cli;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The PostgreSQL server the tests use: the one in {@code KV2PG_TEST_JDBC_URL} when set (its user
 * must be allowed to create databases), else an embedded server started once per JVM. Each test
 * gets a database of its own.
 */
public final class TestPostgres {
  private static final String ENV = "KV2PG_TEST_JDBC_URL";
  private static final AtomicInteger DATABASES = new AtomicInteger();
  private static String adminUrl;
  private static EmbeddedPostgres embedded;

  private TestPostgres() {}

  /** Returns the JDBC URL of the server's maintenance database. */
  public static synchronized String adminUrl() {
    if (adminUrl == null) {
      String configured = System.getenv(ENV);
      if (configured != null && !configured.isBlank()) {
        adminUrl = configured;
      } else {
        try {
          embedded = EmbeddedPostgres.builder().start();
        } catch (IOException e) {
          throw new UncheckedIOException("cannot start the embedded PostgreSQL", e);
        }
        adminUrl = embedded.getJdbcUrl("postgres", "postgres");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
          try {
            embedded.close();
          } catch (IOException e) {
            System.err.println("could not stop the embedded PostgreSQL: " + e);
          }
        }));
      }
    }
    return adminUrl;
  }

  /** Creates a new, empty database and returns its JDBC URL. */
  public static String newDatabase() {
    String admin = adminUrl();
    String name = "kv2pg_cli_test_" + ProcessHandle.current().pid() + "_" + DATABASES.incrementAndGet();
    try (Connection connection = DriverManager.getConnection(admin);
        Statement statement = connection.createStatement()) {
      statement.execute("create database " + name);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot create test database " + name + ": " + e.getMessage(), e);
    }
    return withDatabase(admin, name);
  }

  static String withDatabase(String url, String database) {
    int query = url.indexOf('?');
    String base = query < 0 ? url : url.substring(0, query);
    String params = query < 0 ? "" : url.substring(query);
    int slash = base.lastIndexOf('/');
    return base.substring(0, slash + 1) + database + params;
  }

  /** Runs a query and returns every row as a list of column values. */
  public static List<List<Object>> query(String url, String sql) {
    try (Connection connection = DriverManager.getConnection(url);
        Statement statement = connection.createStatement();
        ResultSet rows = statement.executeQuery(sql)) {
      ResultSetMetaData meta = rows.getMetaData();
      List<List<Object>> result = new ArrayList<>();
      while (rows.next()) {
        List<Object> row = new ArrayList<>();
        for (int i = 1; i <= meta.getColumnCount(); i++) {
          row.add(rows.getObject(i));
        }
        result.add(row);
      }
      return result;
    } catch (SQLException e) {
      throw new IllegalStateException(sql + ": " + e.getMessage(), e);
    }
  }

  /** Runs statements. */
  public static void execute(String url, String sql) {
    try (Connection connection = DriverManager.getConnection(url);
        Statement statement = connection.createStatement()) {
      statement.execute(sql);
    } catch (SQLException e) {
      throw new IllegalStateException(sql + ": " + e.getMessage(), e);
    }
  }
}
