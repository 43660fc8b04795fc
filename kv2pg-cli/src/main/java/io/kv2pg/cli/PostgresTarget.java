package io.kv2pg.cli;

import io.kv2pg.ReplicationRecords;
import io.kv2pg.internal.postgres.PostgresConnector;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Objects;
import javax.sql.DataSource;
import org.postgresql.ds.PGSimpleDataSource;

/** A Postgres server the CLI talks to: a JDBC URL and, kept apart from it, a password. */
final class PostgresTarget {
  private final String url;
  private final String password;
  private final String where;

  /**
   * @param where where the URL was given, for messages, such as "postgres.url, line 7"
   */
  PostgresTarget(String url, String password, String where) {
    this.url = Objects.requireNonNull(url);
    this.password = password;
    this.where = where;
  }

  /** The server named by a {@code --postgres} option; a URL of another driver is a usage error. */
  static PostgresTarget ofOption(String url, String password) {
    String problem = PostgresConnector.urlProblem(url);
    if (problem != null) {
      throw new CliException(Main.USAGE, "--postgres " + problem);
    }
    return new PostgresTarget(url, password, "--postgres");
  }

  static PostgresTarget of(ReplicationConfig config) {
    return new PostgresTarget(config.postgres().url(), config.postgres().password(),
        "postgres.url in " + config.file() + ", line " + config.postgres().line());
  }

  String url() {
    return url;
  }

  String password() {
    return password;
  }

  /** The URL with any password masked. */
  String display() {
    return Redact.text(url);
  }

  /** A data source for kv2pg's replication connection, named after the replication. */
  DataSource dataSource(String applicationName) {
    PGSimpleDataSource dataSource = new PGSimpleDataSource();
    try {
      dataSource.setURL(url);
    } catch (IllegalArgumentException e) {
      throw new CliException(Main.USAGE, "the Postgres URL " + display() + " (" + where + ") is not valid: "
          + Redact.text(e.getMessage()));
    }
    if (password != null) {
      dataSource.setPassword(password);
    }
    dataSource.setApplicationName(applicationName);
    dataSource.setTcpKeepAlive(true);
    if (dataSource.getConnectTimeout() == 0 || dataSource.getConnectTimeout() > 10) {
      dataSource.setConnectTimeout(10);
    }
    return dataSource;
  }

  /** What the database records about kv2pg's replications, read through kv2pg's public API. */
  ReplicationRecords records() {
    return ReplicationRecords.of(dataSource("kv2pg-cli"));
  }

  /** Opens a connection (auto-commit on). */
  Connection connect() throws SQLException {
    return dataSource("kv2pg-cli").getConnection();
  }

  /**
   * Opens a connection, or fails with exit code 2 and a message naming the server.
   */
  Connection connectOrExplain() {
    try {
      return connect();
    } catch (SQLException e) {
      throw new CliException(Main.USAGE, "cannot connect to PostgreSQL at " + display() + " (" + where
          + "): " + Redact.text(describe(e)), e);
    }
  }

  /** Checks that the server is reachable with these credentials. */
  void check() {
    try (Connection connection = connectOrExplain()) {
      connection.isValid(5);
    } catch (SQLException e) {
      throw new CliException(Main.USAGE, "cannot use PostgreSQL at " + display() + ": " + Redact.text(describe(e)), e);
    }
  }

  static String describe(SQLException e) {
    String message = e.getMessage() == null ? e.toString() : e.getMessage();
    Throwable cause = e.getCause();
    if (cause != null && cause.getMessage() != null && !message.contains(cause.getMessage())) {
      message += " (" + cause.getMessage() + ")";
    }
    return e.getSQLState() == null ? message : message + " [SQLSTATE " + e.getSQLState() + "]";
  }

  @Override
  public String toString() {
    return "PostgresTarget[" + display() + "]";
  }
}
