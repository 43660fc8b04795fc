package io.kv2pg.cli;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code kv2pg status --postgres URL}: the replications a database records. */
@Command(name = "status", mixinStandardHelpOptions = true,
    header = "Show every replication a database records: progress, last commit, failure.",
    description = {
        "Lists every replication recorded in a PostgreSQL database: its applied RocksDB sequence,",
        "when it last committed, whether a process runs it now, an unfinished initial copy, and the",
        "failure it stopped on, if any.",
        "",
        "Exit codes: 0 no replication has failed, 1 one has, 2 usage or configuration error",
        "(including a database that cannot be reached)."})
final class StatusCommand extends CliCommand {
  static final class Server {
    @Option(names = "--postgres", paramLabel = "URL", required = true,
        description = "JDBC URL of the database, e.g. jdbc:postgresql://localhost:5432/app?user=app")
    String url;

    @Option(names = "--config", paramLabel = "FILE", required = true,
        description = "Take the database from a replication's YAML file instead.")
    Path config;
  }

  @ArgGroup(exclusive = true, multiplicity = "1")
  Server server;

  @Option(names = "--password-env", paramLabel = "NAME",
      description = "Read the password from this environment variable (default: PGPASSWORD if set).")
  String passwordEnv;

  @Option(names = "--password-file", paramLabel = "FILE",
      description = "Read the password from the first line of this file.")
  Path passwordFile;

  @Override
  int execute() throws Exception {
    PostgresTarget target;
    if (server.config != null) {
      if (passwordEnv != null || passwordFile != null) {
        throw new CliException(Main.USAGE, "--password-env and --password-file go with --postgres;"
            + " with --config, the file's postgres section says where the password is");
      }
      target = PostgresTarget.of(ConfigLoader.load(server.config, cli.env));
    } else {
      target = PostgresTarget.ofOption(server.url, Passwords.read(passwordEnv, passwordFile, cli.env));
    }
    try (Connection connection = target.connectOrExplain()) {
      if (!hasTables(connection)) {
        cli.out.println("No kv2pg replication is recorded in " + target.display()
            + " (it has no kv2pg.replication table).");
        return Main.OK;
      }
      return print(connection, target);
    }
  }

  private static boolean hasTables(Connection connection) throws SQLException {
    try (Statement statement = connection.createStatement();
        ResultSet rows = statement.executeQuery("select to_regclass('kv2pg.replication') is not null")) {
      rows.next();
      return rows.getBoolean(1);
    }
  }

  private int print(Connection connection, PostgresTarget target) throws SQLException {
    boolean hasCopies;
    try (Statement statement = connection.createStatement();
        ResultSet rows = statement.executeQuery("select to_regclass('kv2pg.mapping_copy') is not null")) {
      rows.next();
      hasCopies = rows.getBoolean(1);
    }
    // A running replication holds a session advisory lock: class 0x6b763270 ("kv2p"), hashtext(name).
    String sql = """
        select r.name, r.applied_sequence, r.committed_at, r.failure, r.failed_at,
          exists (select 1 from pg_locks l where l.locktype = 'advisory' and l.granted
                  and l.classid = 1802908272::oid and l.objid = hashtext(r.name)::oid and l.objsubid = 2
                  and l.database = (select oid from pg_database where datname = current_database())) as running,
          %s
        from kv2pg.replication r order by r.name""".formatted(hasCopies
        ? "(select string_agg(c.mapping || ' (' || c.rows_copied || ' rows so far)', ', ' order by c.mapping)"
            + " from kv2pg.mapping_copy c where c.replication = r.name and c.completed_at is null) as copying"
        : "null::text as copying");
    List<List<String>> table = new ArrayList<>();
    List<String[]> failures = new ArrayList<>();
    List<String> copies = new ArrayList<>();
    Instant now = Instant.now();
    try (Statement statement = connection.createStatement(); ResultSet rows = statement.executeQuery(sql)) {
      while (rows.next()) {
        String name = rows.getString("name");
        Timestamp committed = rows.getTimestamp("committed_at");
        String failure = rows.getString("failure");
        Timestamp failedAt = rows.getTimestamp("failed_at");
        boolean running = rows.getBoolean("running");
        String copying = rows.getString("copying");
        String state = failure != null ? "FAILED" : running ? "running" : "stopped";
        if (copying != null) {
          state += ", copying";
          copies.add(name + ": initial copy not finished: " + copying);
        }
        table.add(List.of(name, state, String.format(Locale.ROOT, "%,d", rows.getLong("applied_sequence")),
            committed == null ? "" : committed.toInstant() + " (" + ago(committed.toInstant(), now) + ")"));
        if (failure != null) {
          failures.add(new String[] {name, failedAt == null ? "" : failedAt.toInstant().toString(), failure});
        }
      }
    }
    cli.out.println("Replications in " + target.display() + ":");
    if (table.isEmpty()) {
      cli.out.println("  none recorded.");
      return Main.OK;
    }
    TablePrinter.print(cli.out, List.of("replication", "state", "applied sequence", "last commit"),
        List.of(false, false, true, false), table);
    for (String copy : copies) {
      cli.out.println(copy);
    }
    for (String[] failure : failures) {
      cli.out.println();
      cli.out.println("Replication '" + failure[0] + "' FAILED at " + failure[1] + ":");
      failure[2].lines().forEach(line -> cli.out.println("  " + Redact.text(line)));
    }
    return failures.isEmpty() ? Main.OK : Main.FOUND;
  }

  private static String ago(Instant then, Instant now) {
    Duration age = Duration.between(then, now);
    if (age.isNegative()) {
      age = Duration.ZERO;
    }
    long seconds = age.getSeconds();
    if (seconds < 120) {
      return seconds + " s ago";
    }
    if (seconds < 7200) {
      return seconds / 60 + " min ago";
    }
    if (seconds < 172800) {
      return seconds / 3600 + " h ago";
    }
    return seconds / 86400 + " days ago";
  }
}
