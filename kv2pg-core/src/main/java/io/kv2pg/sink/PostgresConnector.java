package io.kv2pg.sink;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Objects;
import java.util.Properties;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.postgresql.Driver;

/**
 * Opens kv2pg's connections, from a JDBC URL or from the application's data source. Every
 * connection it returns has auto-commit off. Thread-safe.
 */
public final class PostgresConnector {
  private static final Pattern PASSWORD = Pattern.compile("(?i)(password=)[^&;]*");

  private final String url;
  private final DataSource dataSource;
  private final String applicationName;

  private PostgresConnector(String url, DataSource dataSource, String applicationName) {
    this.url = url;
    this.dataSource = dataSource;
    this.applicationName = applicationName;
  }

  /** Connects with pgjdbc to {@code url}, which must start with {@code jdbc:postgresql:}. */
  public static PostgresConnector forUrl(String url, String applicationName) {
    return new PostgresConnector(Objects.requireNonNull(url), null, applicationName);
  }

  /** Connects through the application's data source. */
  public static PostgresConnector forDataSource(DataSource dataSource) {
    return new PostgresConnector(null, Objects.requireNonNull(dataSource), null);
  }

  /** Opens a connection with auto-commit off. */
  public Connection open() throws SQLException {
    Connection connection;
    if (dataSource != null) {
      connection = dataSource.getConnection();
    } else {
      Properties properties = new Properties();
      properties.setProperty("ApplicationName", applicationName);
      properties.setProperty("tcpKeepAlive", "true");
      // A half-open connection would otherwise block a statement (and stop()) until TCP gives
      // up, hours later; a timeout is a lost connection, retried like any other. Settings in the
      // URL take precedence.
      properties.setProperty("socketTimeout", "300");
      properties.setProperty("connectTimeout", "10");
      connection = new Driver().connect(url, properties);
      if (connection == null) {
        throw new SQLException("not a PostgreSQL JDBC URL: " + mask(url), "08001");
      }
    }
    try {
      connection.setAutoCommit(false);
    } catch (SQLException e) {
      connection.close();
      throw e;
    }
    return connection;
  }

  /** Returns where connections go, with any password masked. */
  public String describe() {
    return dataSource != null ? "DataSource " + dataSource.getClass().getName() : mask(url);
  }

  /** Returns the URL with the value of any {@code password} property replaced by {@code ***}. */
  public static String mask(String url) {
    return PASSWORD.matcher(url).replaceAll("$1***");
  }

  @Override
  public String toString() {
    return "PostgresConnector[" + describe() + "]";
  }
}
