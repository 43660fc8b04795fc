package io.kv2pg.cli;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashSet;
import java.util.Set;

/** Creates the schemas that a config's tables name, when they are missing. */
final class Schemas {
  private Schemas() {}

  static void ensure(PostgresTarget target, ReplicationConfig config) {
    Set<String> schemas = new LinkedHashSet<>();
    config.tables().forEach(table -> {
      if (table.schema() != null) {
        schemas.add(table.schema());
      }
    });
    if (schemas.isEmpty()) {
      return;
    }
    try (Connection connection = target.connectOrExplain()) {
      for (String schema : schemas) {
        boolean exists;
        try (PreparedStatement statement =
            connection.prepareStatement("select exists (select 1 from pg_namespace where nspname = ?)")) {
          statement.setString(1, schema);
          try (ResultSet rows = statement.executeQuery()) {
            rows.next();
            exists = rows.getBoolean(1);
          }
        }
        if (!exists) {
          try (Statement statement = connection.createStatement()) {
            statement.execute("create schema if not exists \"" + schema.replace("\"", "\"\"") + "\"");
          }
        }
      }
    } catch (SQLException e) {
      throw new CliException(Main.FOUND, "cannot create the schemas " + schemas + " in PostgreSQL: "
          + PostgresTarget.describe(e), e);
    }
  }
}
