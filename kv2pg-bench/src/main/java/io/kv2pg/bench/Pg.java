package io.kv2pg.bench;

import io.kv2pg.ReplicationRecord;
import io.kv2pg.ReplicationRecords;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * The PostgreSQL server every system writes to: the one given with {@code --postgres}, or an
 * embedded server (PostgreSQL 14 from zonky's binaries) configured like a stock server, with
 * {@code fsync=on} and {@code synchronous_commit=on} (zonky turns both off, which would flatter
 * every system that commits often). The harness works in schema {@value Rows#SCHEMA}, which it drops
 * and recreates.
 */
final class Pg implements AutoCloseable {
  private final EmbeddedPostgres embedded;
  final String url;

  private Pg(EmbeddedPostgres embedded, String url) {
    this.embedded = embedded;
    this.url = url;
  }

  static Pg start(String givenUrl) throws IOException, SQLException {
    if (givenUrl != null) {
      Pg pg = new Pg(null, givenUrl);
      pg.reset();
      return pg;
    }
    EmbeddedPostgres embedded = EmbeddedPostgres.builder()
        .setServerConfig("synchronous_commit", "on")
        .setServerConfig("fsync", "on") // zonky starts the server with -F (fsync off)
        .setServerConfig("max_connections", "100")
        .start();
    String admin = embedded.getJdbcUrl("postgres", "postgres");
    try (Connection connection = DriverManager.getConnection(admin);
        Statement statement = connection.createStatement()) {
      statement.execute("create database kv2pg_bench");
    }
    Pg pg = new Pg(embedded, embedded.getJdbcUrl("postgres", "kv2pg_bench"));
    pg.reset();
    return pg;
  }

  boolean isEmbedded() {
    return embedded != null;
  }

  /** Drops and recreates the harness's schema and forgets its replications' checkpoints. */
  private void reset() throws SQLException {
    execute("drop schema if exists \"" + Rows.SCHEMA + "\" cascade",
        "create schema \"" + Rows.SCHEMA + "\"");
    forgetReplications();
  }

  /**
   * Forgets the checkpoints of the harness's replications (named {@code bench-…}), except one that
   * still runs (a scenario that failed to stop it), which would refuse.
   */
  void forgetReplications() {
    ReplicationRecords records = ReplicationRecords.of(url);
    for (ReplicationRecord record : records.list()) {
      if (record.name().startsWith("bench-") && !record.running()) {
        records.forget(record.name());
      }
    }
  }

  Connection connect() throws SQLException {
    return DriverManager.getConnection(url);
  }

  void execute(String... sql) throws SQLException {
    try (Connection connection = connect(); Statement statement = connection.createStatement()) {
      for (String s : sql) {
        statement.execute(s);
      }
    }
  }

  List<Object> row(String sql) throws SQLException {
    try (Connection connection = connect(); Statement statement = connection.createStatement();
        ResultSet rows = statement.executeQuery(sql)) {
      rows.next();
      List<Object> row = new ArrayList<>();
      for (int i = 1; i <= rows.getMetaData().getColumnCount(); i++) {
        row.add(rows.getObject(i));
      }
      return row;
    }
  }

  void dropTable(String table) throws SQLException {
    execute("drop table if exists " + Rows.qualified(table));
  }

  /** Writes dirty buffers out so that one system's writes do not slow the next one down. */
  void settle() {
    try {
      execute("checkpoint");
    } catch (SQLException e) {
      // Needs superuser; without it the next system may pay for some of this one's writes.
    }
  }

  String describe() throws SQLException {
    List<Object> row = row("select version(), current_setting('synchronous_commit'),"
        + " current_setting('fsync'), current_setting('shared_buffers'),"
        + " current_setting('wal_level'), current_setting('max_wal_size')");
    String version = String.valueOf(row.get(0));
    int comma = version.indexOf(',');
    return (isEmbedded() ? "embedded " : "given server, ") + (comma > 0 ? version.substring(0, comma) : version)
        + "; synchronous_commit=" + row.get(1) + ", fsync=" + row.get(2) + ", shared_buffers="
        + row.get(3) + ", wal_level=" + row.get(4) + ", max_wal_size=" + row.get(5);
  }

  @Override
  public void close() throws IOException {
    if (embedded != null) {
      embedded.close();
    }
  }
}
