package io.kv2pg.cli;

import io.kv2pg.Replication;
import io.kv2pg.ReplicationException;
import io.kv2pg.ReplicationState;
import io.kv2pg.ReplicationStatus;
import io.kv2pg.RunningReplication;
import io.kv2pg.Verification;
import io.kv2pg.VerificationReport;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.RocksDB;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code kv2pg demo}: a shop in RocksDB, replicated live into PostgreSQL while it changes, then
 * queried with SQL and verified.
 *
 * <p>Over 300 lines because it is a script a user reads top to bottom next to its output: the
 * steps (set-up, the live phase, the queries, the verification) in the order they print. The shop
 * itself is in {@link DemoShop}.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    header = "Run a live demo: a shop in RocksDB, replicated into PostgreSQL, queried and verified.",
    description = {
        "Shows kv2pg at work, with nothing to install: creates a RocksDB store holding a small shop",
        "(customers, orders, order lines with JSON values), replicates it into PostgreSQL while it keeps",
        "changing, then runs a few SQL queries and verifies that the tables equal the store.",
        "Without --postgres, starts an embedded PostgreSQL and prints how to connect to it with psql.",
        "",
        "Exit codes: 0 the tables equal the store, 1 they do not or the replication failed,",
        "2 usage or configuration error."})
final class DemoCommand extends CliCommand {
  static final String NAME = "kv2pg-demo";
  static final String SCHEMA = "kv2pg_demo";
  /** The replication connection's application_name, by which the copy's progress is found. */
  static final String APPLICATION_NAME = "kv2pg-" + NAME;

  @Option(names = "--postgres", paramLabel = "URL",
      description = "Use this PostgreSQL (JDBC URL) instead of an embedded one. The demo drops and"
          + " recreates schema " + SCHEMA + " there.")
  String postgres;

  @Option(names = "--password-env", paramLabel = "NAME",
      description = "With --postgres: read the password from this environment variable (default: PGPASSWORD).")
  String passwordEnv;

  @Option(names = "--password-file", paramLabel = "FILE",
      description = "With --postgres: read the password from the first line of this file.")
  Path passwordFile;

  @Option(names = "--db", paramLabel = "DIR",
      description = "Create the RocksDB store in DIR (must not exist or be empty) and keep it;"
          + " default: a temporary folder, deleted at the end.")
  Path db;

  @Option(names = "--rate", paramLabel = "N", defaultValue = "200",
      description = "Write batches per second while replicating (default: ${DEFAULT-VALUE}).")
  int rate;

  @Option(names = "--duration", paramLabel = "TIME", defaultValue = "20s", converter = DurationConverter.class,
      description = "How long to keep writing, such as 20s, 2m or 500ms (default: ${DEFAULT-VALUE}).")
  Duration duration;

  @Option(names = "--orders", paramLabel = "N", defaultValue = "20000",
      description = "Orders in the store before replication starts, with a fifth as many customers"
          + " and 1 to 4 lines each (default: ${DEFAULT-VALUE}).")
  int orders;

  @Option(names = "--keep-running",
      description = "At the end, keep the store, the replication and the embedded PostgreSQL up until Ctrl-C.")
  boolean keepRunning;

  @Mixin
  MetricsOptions metrics;

  @Option(names = "--plain", description = "Print log lines instead of a live display, even on a terminal.")
  boolean plain;

  /** What to close at the end, last opened first. */
  private final Deque<AutoCloseable> resources = new ArrayDeque<>();

  @Override
  int execute() throws Exception {
    if (rate < 0 || rate > 100_000) {
      throw new CliException(Main.USAGE, "--rate must be between 0 and 100000 but was " + rate);
    }
    if (orders < 0 || orders > 10_000_000) {
      throw new CliException(Main.USAGE, "--orders must be between 0 and 10000000 but was " + orders);
    }
    if (postgres == null && (passwordEnv != null || passwordFile != null)) {
      throw new CliException(Main.USAGE, "--password-env and --password-file go with --postgres");
    }
    Thread hook = new Thread(this::closeResources, "kv2pg-demo-cleanup");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      return demo();
    } finally {
      if (!keepRunning) {
        closeResources();
        SyncCommand.removeHook(hook);
      }
    }
  }

  private int demo() throws Exception {
    PostgresTarget target = postgres();
    resetSchema(target);

    Path storePath = storePath();
    Map<String, ColumnFamilyHandle> families = new LinkedHashMap<>();
    RocksDB store = openStore(storePath, families);
    Path configFile = storePath.resolveSibling(storePath.getFileName() + ".kv2pg.yaml");
    Files.writeString(configFile, config(storePath, target, cli.command), StandardCharsets.UTF_8);
    ReplicationConfig config = ConfigLoader.load(configFile, cli.env)
        .withPostgres(new ReplicationConfig.PostgresConfig(target.url(), target.password(), 0));

    DemoShop shop = new DemoShop(store, families, 42);
    resources.push(shop::close);
    cli.out.printf(Locale.ROOT, "Creating a RocksDB store in %s: column families %s, %s and %s.%n", storePath,
        DemoShop.CUSTOMERS, DemoShop.ORDERS, DemoShop.ORDER_LINES);
    long seeded = shop.seed(orders);
    cli.out.printf(Locale.ROOT, "Seeded %,d entries: %s, one entry per row.%n", seeded, shop.describeSeed());
    cli.out.println(db == null
        ? "The replication's config (deleted at exit with the store; --db DIR keeps both): " + configFile
        : "The replication's config, kept next to the store: " + configFile);

    Replication.Builder builder = Replication.builder()
        .postgres(target.dataSource(APPLICATION_NAME)).source(store).name(NAME);
    MetricsServer server = metrics.start(cli);
    if (server != null) {
      resources.push(server::close);
      builder.meterRegistry(server.registry());
    }
    config.mappings(families).forEach(builder::tree);
    Replication replication = builder.build();
    cli.out.printf(Locale.ROOT, "Replicating into %s (tables %s.customers, %s.orders, %s.order_lines); once the"
        + " copy's snapshot is taken, writing %d batches/s for %s.%n", target.display(), SCHEMA, SCHEMA, SCHEMA,
        rate, human(duration));

    CopySummary copies = CopySummary.before(target, NAME);
    RunningReplication running = Replications.start(replication, server);
    resources.push(running::stop);
    resources.push(cli.interrupts.whileRunning("stopping the demo at the next commit", () -> {
      stopWriter = true;
      running.stopAtNextCommit(Replications.STOP_TIMEOUT);
    }));
    AtomicReference<Throwable> writerError = new AtomicReference<>();
    Thread writer = new Thread(() -> write(shop, running, writerError), "kv2pg-demo-writer");
    writer.setDaemon(true);
    resources.push(() -> { // On Ctrl-C, stop writing before the store closes.
      stopWriter = true;
      if (writer.isAlive()) {
        writer.join();
      }
    });
    ReplicationStatus status;
    // The writes start once the copy's snapshot is taken, so the copy holds exactly the seeded
    // entries: that count is the bar's total, and the copy's own count at the end.
    try (CopyRowsInFlight inFlight = new CopyRowsInFlight(target, APPLICATION_NAME);
        ProgressView view = new ProgressView(cli.out, cli.terminal && !plain, running, () -> seeded,
            () -> String.format(Locale.ROOT, "%,d writes", shop.writes.get()))
            .copyRowsInFlight(inFlight).copies(copies).start()) {
      writer.start();
      while (writer.isAlive()) {
        writer.join(200);
        if (running.status().state() == ReplicationState.FAILED) {
          break;
        }
      }
      status = Replications.awaitCaughtUp(running);
    } finally {
      stopWriter = true;
      writer.join();
    }
    if (cli.interrupts.received()) {
      return interrupted(running);
    }
    if (writerError.get() != null) {
      throw new CliException(Main.FOUND, "the demo's writer failed: " + writerError.get(), writerError.get());
    }
    if (status.state() == ReplicationState.FAILED) {
      throw new CliException(Main.FOUND, "the replication failed: " + Replications.failure(status));
    }
    long copiedRows = copies.rows();
    cli.out.printf(Locale.ROOT, "Caught up: Postgres holds every write up to sequence %,d (%s).%n",
        status.appliedSequence(), shop.describeWrites());
    cli.out.printf(Locale.ROOT, "Rows applied: %,d = %,d by the initial copy (one per entry at its snapshot)"
        + " + %,d streamed (the writes' upserts and deletes, coalesced per key within a transaction).%n",
        status.rowsApplied(), copiedRows, status.rowsApplied() - copiedRows);

    String copied = copies.describe();
    if (copied != null) {
      cli.out.println("The " + copied + ", then the writes streamed from the write-ahead log.");
    }
    queries(target);

    cli.out.println();
    cli.out.println("Verifying: every table against the store, row by row, column by column...");
    VerificationReport report = Verification.of(replication).run();
    cli.out.print(report.format());
    boolean clean = report.isClean();
    cli.out.println(clean ? "verify: the tables equal the store."
        : "verify: the tables DIFFER from the store (see above).");

    if (keepRunning) {
      cli.out.println();
      cli.out.println("Still running (--keep-running): the replication follows the store, and PostgreSQL is at");
      cli.out.println("  " + target.display());
      cli.out.println("Try, in another terminal, while this runs:");
      hints(configFile, true);
      cli.out.println("Press Ctrl-C to stop" + (db == null ? " (which deletes the store and its config)." : "."));
      cli.out.flush();
      cli.interrupts.await();
    } else if (db != null && postgres != null) {
      cli.out.println();
      cli.out.println("The store, its config and the tables are kept. Try:");
      hints(configFile, false);
    }
    if (cli.interrupts.received()) {
      return interrupted(running);
    }
    return clean ? Main.OK : Main.FOUND;
  }

  /** After Ctrl-C or SIGTERM, which stopped the replication at its next commit: says where, returns 130/143. */
  private int interrupted(RunningReplication running) {
    running.stopAtNextCommit(Replications.STOP_TIMEOUT);
    cli.out.printf("demo: %s: %s%n", cli.interrupts.signalName(), Replications.stoppedAt(running.status()));
    return cli.interrupts.exitCode();
  }

  /** The commands to try on the demo's replication, spelt as the user runs kv2pg. */
  private void hints(Path configFile, boolean running) {
    cli.out.println("  " + cli.command + " verify --config " + configFile);
    cli.out.println("  " + cli.command + " status --config " + configFile);
    if (!running) {
      cli.out.println("  " + cli.command + " sync --config " + configFile);
    }
  }


  private volatile boolean stopWriter;

  private void write(DemoShop shop, RunningReplication running,
      AtomicReference<Throwable> error) {
    try {
      // Until the copy's snapshot is taken (the replication leaves STARTING), a write would land
      // in the copy and make it differ from the seeded count.
      while (!stopWriter && running.status().state() == ReplicationState.STARTING) {
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
      }
      long start = System.nanoTime();
      long end = start + duration.toNanos();
      if (rate == 0) {
        while (!stopWriter && System.nanoTime() < end) {
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
        }
        return;
      }
      long interval = TimeUnit.SECONDS.toNanos(1) / rate;
      long next = start;
      while (!stopWriter) {
        long now = System.nanoTime();
        if (now >= end) {
          return;
        }
        shop.writeOne();
        next += interval;
        long wait = next - System.nanoTime();
        if (wait > 0) {
          LockSupport.parkNanos(wait);
        } else if (wait < -TimeUnit.SECONDS.toNanos(1)) {
          next = System.nanoTime(); // Fell behind by over a second: do not burst to catch up.
        }
      }
    } catch (Throwable t) {
      error.set(t);
    }
  }

  // ------------------------------------------------------------------ Postgres

  private PostgresTarget postgres() throws IOException {
    if (postgres != null) {
      PostgresTarget target = PostgresTarget.ofOption(postgres, Passwords.read(passwordEnv, passwordFile, cli.env));
      target.check();
      cli.out.println("Using PostgreSQL at " + target.display());
      return target;
    }
    cli.out.println("No --postgres given: starting an embedded PostgreSQL (the one the tests use)...");
    cli.out.flush();
    EmbeddedPostgres server = EmbeddedPostgres.builder().start();
    resources.push(server);
    try (Connection connection = server.getPostgresDatabase().getConnection();
        Statement statement = connection.createStatement()) {
      statement.execute("create database " + SCHEMA);
    } catch (SQLException e) {
      throw new CliException(Main.FOUND, "cannot create the demo database: " + e.getMessage(), e);
    }
    String url = server.getJdbcUrl("postgres", SCHEMA);
    cli.out.println("Embedded PostgreSQL is up. While the demo runs, connect to it with");
    cli.out.println("  JDBC: " + url);
    cli.out.println("  psql: psql -h localhost -p " + server.getPort() + " -U postgres " + SCHEMA);
    cli.out.println("(--keep-running keeps it up after the demo, until Ctrl-C.)");
    return new PostgresTarget(url, null, "embedded PostgreSQL");
  }

  /** Starts the demo from nothing in Postgres: its schema, and the replication's checkpoint. */
  private static void resetSchema(PostgresTarget target) {
    try (Connection connection = target.connectOrExplain(); Statement statement = connection.createStatement()) {
      statement.execute("drop schema if exists " + SCHEMA + " cascade");
      statement.execute("create schema " + SCHEMA);
    } catch (SQLException e) {
      throw new CliException(Main.FOUND, "cannot prepare schema " + SCHEMA + " in " + target.display() + ": "
          + PostgresTarget.describe(e), e);
    }
    try {
      target.records().forget(NAME);
    } catch (ReplicationException | IllegalStateException e) {
      throw new CliException(Main.FOUND, "cannot reset replication " + NAME + " in " + target.display() + ": "
          + e.getMessage(), e);
    }
  }

  private void queries(PostgresTarget target) throws SQLException {
    cli.out.println();
    cli.out.println("Now the shop is in PostgreSQL, SQL can answer questions a key-value store cannot:");
    try (Connection connection = target.connect()) {
      query(connection, "Best customers: a join of three tables", """
          select c.name as customer, c.country, count(distinct o.id) as orders,
                 sum(l.qty * l.unit_price) as revenue
          from kv2pg_demo.customers c
          join kv2pg_demo.orders o on o.customer_id = c.id
          join kv2pg_demo.order_lines l on l.order_id = o.id
          where o.status <> 'cancelled'
          group by c.id, c.name, c.country
          order by revenue desc, c.id
          limit 5""");
      query(connection, "Orders by status: an aggregate", """
          select o.status, count(*) as orders, round(avg(t.lines), 2) as avg_lines,
                 sum(t.total) as value
          from kv2pg_demo.orders o
          left join (select order_id, count(*) as lines, sum(qty * unit_price) as total
                     from kv2pg_demo.order_lines group by order_id) t on t.order_id = o.id
          group by o.status
          order by orders desc""");
      query(connection, "Revenue by destination: a field inside the JSON value", """
          select o.shipping ->> 'country' as ship_to, count(distinct o.id) as orders,
                 sum(l.qty * l.unit_price) as revenue
          from kv2pg_demo.orders o
          join kv2pg_demo.order_lines l on l.order_id = o.id
          where o.status in ('paid', 'shipped', 'delivered')
          group by 1
          order by revenue desc
          limit 5""");
    }
  }

  private void query(Connection connection, String title, String sql) throws SQLException {
    TablePrinter.query(cli.out, connection, title + ":\n" + sql.lines().map(line -> "    " + line)
        .reduce((a, b) -> a + "\n" + b).orElse(sql), sql);
  }

  // ------------------------------------------------------------------ store

  private Path storePath() throws IOException {
    if (db == null) {
      Path folder = Files.createTempDirectory("kv2pg-demo-");
      resources.push(() -> Store.deleteTree(folder));
      return folder.resolve("store");
    }
    Path path = db.toAbsolutePath().normalize();
    if (Files.exists(path)) {
      if (!Files.isDirectory(path)) {
        throw new CliException(Main.USAGE, "--db " + path + " is a file, not a folder");
      }
      try (var entries = Files.list(path)) {
        if (entries.findAny().isPresent()) {
          throw new CliException(Main.USAGE, "--db " + path + " is not empty: the demo creates a new store;"
              + " give a new folder");
        }
      }
    }
    return path;
  }

  private RocksDB openStore(Path path, Map<String, ColumnFamilyHandle> families) throws Exception {
    Files.createDirectories(path);
    DBOptions options = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true)
        .setWalTtlSeconds(24 * 3600); // kv2pg needs the WAL kept: see the README.
    ColumnFamilyOptions familyOptions = new ColumnFamilyOptions();
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
    descriptors.add(new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, familyOptions));
    for (String name : List.of(DemoShop.CUSTOMERS, DemoShop.ORDERS, DemoShop.ORDER_LINES)) {
      descriptors.add(new ColumnFamilyDescriptor(name.getBytes(StandardCharsets.UTF_8), familyOptions));
    }
    List<ColumnFamilyHandle> handles = new ArrayList<>();
    RocksDB store = RocksDB.open(options, path.toString(), descriptors, handles);
    resources.push(() -> {
      handles.forEach(ColumnFamilyHandle::close);
      store.close();
      options.close();
      familyOptions.close();
    });
    for (int i = 0; i < descriptors.size(); i++) {
      families.put(new String(descriptors.get(i).getName(), StandardCharsets.UTF_8), handles.get(i));
    }
    return store;
  }

  /** The demo's replication as a config file, which {@code sync}, {@code verify} and {@code status} take. */
  static String config(Path store, PostgresTarget target, String command) {
    String url = target.url().replaceAll("(?i)([?&])password=[^&]*&?", "$1").replaceAll("[?&]$", "");
    return """
        # Written by '%13$s demo': the demo's replication. While '%13$s demo --keep-running' runs, try
        #   %13$s verify --config THIS_FILE     and     %13$s status --config THIS_FILE
        # The format is described in docs/CONFIG.md.
        name: %s

        rocksdb:
          path: %s

        postgres:
          url: %s
          # password-env: PGPASSWORD     # where the password is, if the server needs one

        tables:
          - column-family: customers
            table: %s.customers
            key:
              id: int64                  # 8-byte big-endian key
            values:
              name: json-text            # JSON field "name" (the path defaults to the column name)
              email: json-text
              country: json-text

          - column-family: orders
            table: %s.orders
            key:
              id: int64
            values:
              customer_id: json-long
              status: json-text
              created_at: json-text
              shipping: json-document    # a nested JSON object, kept as jsonb
            create-commands: |
              do $$ begin
                if not exists (select 1 from pg_constraint where conname = 'orders_customer_fk'
                               and conrelid = '%s.orders'::regclass) then
                  alter table %s.orders add constraint orders_customer_fk foreign key (customer_id)
                    references %s.customers (id) deferrable initially deferred;
                end if;
              end $$

          - column-family: order_lines
            table: %s.order_lines
            key:                         # 12-byte key: order id, then line number
              order_id: {decoder: int64, offset: 0}
              line: {decoder: int32, offset: 8}
            values:
              product: json-text
              qty: json-int
              unit_price: json-numeric
            create-commands: |
              do $$ begin
                if not exists (select 1 from pg_constraint where conname = 'order_lines_order_fk'
                               and conrelid = '%s.order_lines'::regclass) then
                  alter table %s.order_lines add constraint order_lines_order_fk foreign key (order_id)
                    references %s.orders (id) deferrable initially deferred;
                end if;
              end $$
        """.formatted(NAME, yamlString(store.toString()), yamlString(url), SCHEMA, SCHEMA, SCHEMA, SCHEMA,
        SCHEMA, SCHEMA, SCHEMA, SCHEMA, SCHEMA, command);
  }

  private static String yamlString(String text) {
    return "\"" + text.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  private static String human(Duration duration) {
    long millis = duration.toMillis();
    if (millis % 60_000 == 0 && millis > 0) {
      return millis / 60_000 + " min";
    }
    if (millis % 1000 == 0) {
      return millis / 1000 + " s";
    }
    return millis + " ms";
  }

  private synchronized void closeResources() {
    while (!resources.isEmpty()) {
      AutoCloseable resource = resources.pop();
      try {
        resource.close();
      } catch (Exception e) {
        if (cli.verbose) {
          cli.err.println("kv2pg: while cleaning up: " + e);
        }
      }
    }
  }
}
