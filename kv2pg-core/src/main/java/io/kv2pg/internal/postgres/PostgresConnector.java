package io.kv2pg.internal.postgres;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Locale;
import java.util.Objects;
import java.util.Properties;
import javax.sql.DataSource;
import org.postgresql.Driver;

/**
 * Opens kv2pg's connections, from a JDBC URL or from the application's data source. Every
 * connection it returns has auto-commit off. Thread-safe.
 */
public final class PostgresConnector {

  private static final String URL_PREFIX = "jdbc:postgresql:";

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

  /**
   * Checks a URL given to the public API as its {@code postgres jdbcUrl} property.
   *
   * @return the URL
   * @throws NullPointerException if it is {@code null}
   * @throws IllegalArgumentException if it is not a pgjdbc URL (the message names only its scheme)
   */
  public static String requireUrl(String url) {
    Objects.requireNonNull(url, "postgres jdbcUrl must not be null");
    String problem = urlProblem(url);
    if (problem != null) {
      throw new IllegalArgumentException("postgres jdbcUrl " + problem);
    }
    return url;
  }

  /**
   * Returns why {@code url} is not a pgjdbc URL, or {@code null} when it is one. The reason names
   * only the URL's scheme: another driver's URL has its own syntax, so it cannot be masked.
   */
  public static String urlProblem(String url) {
    if (url.startsWith(URL_PREFIX)) {
      return null;
    }
    int schemeEnd = url.startsWith("jdbc:") ? url.indexOf(':', "jdbc:".length()) : url.indexOf(':');
    String scheme = schemeEnd < 0 ? "no scheme" : "'" + url.substring(0, schemeEnd + 1) + "'";
    return "must start with " + URL_PREFIX + " but starts with " + scheme;
  }

  /**
   * Returns the URL with the value of every secret parameter ({@code password}, {@code
   * sslpassword}, any name containing "password") replaced by {@code ***}. Masks by structure,
   * as pgjdbc reads the URL (parameters after the first {@code ?}, split on {@code &} only), so
   * that a password is hidden whole whatever characters it holds, and nothing else is touched.
   */
  public static String mask(String url) {
    int query = url.indexOf('?');
    if (query < 0) {
      return url;
    }
    StringBuilder masked = new StringBuilder(url.length()).append(url, 0, query + 1);
    String[] parameters = url.substring(query + 1).split("&", -1);
    for (int i = 0; i < parameters.length; i++) {
      if (i > 0) {
        masked.append('&');
      }
      String parameter = parameters[i];
      int equals = parameter.indexOf('=');
      String name = equals < 0 ? parameter : parameter.substring(0, equals);
      masked.append(name.toLowerCase(Locale.ROOT).contains("password") ? name + "=***" : parameter);
    }
    return masked.toString();
  }

  @Override
  public String toString() {
    return "PostgresConnector[" + describe() + "]";
  }
}
