package io.kv2pg.bench;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;

/**
 * naive-jdbc: what a hand-written dual write does: after each store write, one autocommitted
 * upsert (or delete) on the application thread's own connection. Not thread-safe: one per thread.
 */
final class NaiveJdbc implements AutoCloseable {
  private final Rows.Kind kind;
  private final Connection connection;
  private final PreparedStatement upsert;
  private final PreparedStatement delete;

  NaiveJdbc(Pg pg, Rows.Kind kind, String table) throws SQLException {
    this.kind = kind;
    this.connection = pg.connect();
    connection.setAutoCommit(true);
    String placeholders = kind == Rows.Kind.NARROW ? "?, ?, ?" : "?, ?, ?, ?, ?, ?, ?";
    upsert = connection.prepareStatement("insert into " + Rows.qualified(table) + " (" + kind.columns()
        + ") values (" + placeholders + ") on conflict (id) do update set " + kind.updateSet());
    delete = connection.prepareStatement("delete from " + Rows.qualified(table) + " where id = ?");
  }

  void upsert(byte[] key, byte[] value) throws SQLException {
    Object[] params = Decode.params(kind, key, value);
    for (int i = 0; i < params.length; i++) {
      upsert.setObject(i + 1, params[i]);
    }
    upsert.executeUpdate();
  }

  void delete(long id) throws SQLException {
    delete.setLong(1, id);
    delete.executeUpdate();
  }

  @Override
  public void close() throws SQLException {
    connection.close();
  }
}
