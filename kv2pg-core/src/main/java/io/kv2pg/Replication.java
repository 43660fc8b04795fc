package io.kv2pg;

import io.kv2pg.internal.engine.DeadLetterRetrier;
import io.kv2pg.internal.engine.FamilyWait;
import io.kv2pg.internal.engine.ReplicationEngine;
import io.kv2pg.internal.engine.Telemetry;
import io.kv2pg.internal.metrics.MicrometerTelemetry;
import io.micrometer.core.instrument.MeterRegistry;
import io.kv2pg.internal.postgres.PostgresConnector;
import io.kv2pg.internal.rocksdb.PrimaryWalSource;
import io.kv2pg.internal.rocksdb.SecondaryWalSource;
import io.kv2pg.internal.rocksdb.WalRetention;
import io.kv2pg.internal.rocksdb.WalSource;
import io.kv2pg.internal.table.MappingPlan;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDB;

/**
 * A replication of a RocksDB store's trees into PostgreSQL tables: what to read, how entries
 * become rows, and where they go. Build one with {@link #builder()}, then {@link #start()} it.
 *
 * <p>A replication is identified in Postgres by its {@linkplain Builder#name(String) name}: its
 * checkpoint (the last applied RocksDB sequence number) lives in kv2pg's checkpoint table (schema
 * {@code kv2pg}) under that name, so a restart with the same name resumes where the last run
 * committed; {@link ReplicationRecords} reads and forgets it. One process at a time may run a
 * given name against a database.
 *
 * <p>Immutable and thread-safe.
 */
public final class Replication {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.\\-]{1,100}");

  private final String name;
  /** The application's open database, or {@code null} when following a store. */
  private final RocksDB database;
  /** The followed store's folder, or {@code null} with an application's database. */
  private final Path storeDir;
  /** The follower's own folder, or {@code null} for a temporary one. */
  private final Path followerDir;
  private final PostgresConnector postgres;
  private final List<TreeMapping> trees;
  private final ReplicationEngine.Settings settings;

  private Replication(Builder builder) {
    this.name = builder.name;
    this.database = builder.database;
    this.storeDir = builder.storeDir;
    this.followerDir = builder.followerDir;
    this.postgres = builder.jdbcUrl != null
        ? PostgresConnector.forUrl(builder.jdbcUrl, "kv2pg-" + builder.name)
        : PostgresConnector.forDataSource(builder.dataSource);
    this.trees = List.copyOf(builder.trees);
    this.settings = new ReplicationEngine.Settings(builder.copyChunkRows, builder.stallAfter,
        builder.meterRegistry == null ? Telemetry.Factory.NONE : MicrometerTelemetry.factory(builder.meterRegistry),
        builder.onDataError, builder.onGap);
  }

  /** Starts describing a replication. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns the replication's name. */
  public String name() {
    return name;
  }

  /**
   * Returns where changes come from: the application's database, or a newly opened follower of the
   * store, which the caller closes.
   */
  WalSource openSource() {
    if (storeDir == null) {
      return new PrimaryWalSource(database);
    }
    return SecondaryWalSource.open(storeDir, followerDir);
  }

  PostgresConnector postgres() {
    return postgres;
  }

  /** Returns the tree mappings, in the order they were added. */
  public List<TreeMapping> trees() {
    return trees;
  }

  /**
   * Starts replicating and returns at once; the initial copy of newly mapped trees and the
   * streaming run on kv2pg's own threads until {@link RunningReplication#stop()}. Problems met
   * after this returns (Postgres errors, bad data) show in {@link RunningReplication#status()}. A
   * followed store ({@link Builder#follow}) that lacks a column family a mapping names is waited
   * for: the replication stays {@code STARTING}, {@code waitingFor()} names the families, and it
   * starts once the store's owner has created them all.
   *
   * @throws ReplicationException if the store deletes its WAL files at once, so writes made while
   *     the replication is stopped could be lost; the message says which option to set
   */
  public RunningReplication start() {
    if (storeDir != null) {
      // Before anything is opened: a refusal leaves the store and Postgres untouched.
      WalRetention.checkFolder(storeDir, name);
      Set<String> needed = new TreeSet<>();
      trees.forEach(tree -> needed.add(tree.treeName()));
      Set<String> missing = new TreeSet<>(needed);
      missing.removeAll(SecondaryWalSource.familyNames(storeDir));
      if (!missing.isEmpty()) {
        return FamilyWait.start(name, storeDir, needed, missing, this::startOnSource);
      }
    } else {
      WalRetention.check(database, name);
    }
    return startOnSource();
  }

  /** Opens where changes come from and starts the engine on it. */
  private RunningReplication startOnSource() {
    WalSource source = openSource();
    try {
      return start(source);
    } catch (RuntimeException | Error e) {
      source.close();
      throw e;
    }
  }

  RunningReplication start(WalSource source) {
    ReplicationEngine engine = new ReplicationEngine(name, source, postgres, plans(source), settings);
    engine.start();
    return engine;
  }

  /**
   * Applies this replication's dead letters ({@link OnDataError#DEAD_LETTER}) again, after the
   * mapping or the data was fixed: each from the store's current value of its key (a delete when
   * the key is gone), in a transaction of its own that also removes it. One that fails again stays,
   * with its new error. Call it while the replication is stopped and Postgres holds everything the
   * store holds (after a run caught up): the store's values are then exactly what the tables must
   * show.
   *
   * @return how many applied, and the dead letters that remain
   * @throws IllegalStateException if the replication is running, or Postgres does not hold the
   *     store's latest sequence; nothing is retried
   * @throws ReplicationException if Postgres cannot be reached
   */
  public DeadLetterRetry retryDeadLetters() {
    WalSource source = openSource();
    try {
      return new DeadLetterRetrier(name, source.database(), postgres, plans(source)).retry();
    } finally {
      source.close();
    }
  }

  /**
   * Returns how the engine runs each mapping, in the replication's order, each reading its column
   * family of {@code source}: the handle its builder was given, or the one found by its name.
   *
   * @throws ReplicationException if a named column family is not in the store
   */
  List<MappingPlan> plans(WalSource source) {
    Map<String, ColumnFamilyHandle> families = new HashMap<>();
    if (source instanceof SecondaryWalSource secondary) {
      families.putAll(secondary.families());
    } else {
      families.put("default", database.getDefaultColumnFamily());
      for (TreeMapping tree : trees) {
        if (tree.columnFamily() != null) {
          families.putIfAbsent(tree.treeName(), tree.columnFamily());
        }
      }
    }
    List<MappingPlan> plans = new ArrayList<>(trees.size());
    for (TreeMapping tree : trees) {
      ColumnFamilyHandle handle = tree.columnFamily() != null ? tree.columnFamily() : families.get(tree.treeName());
      if (handle == null) {
        throw new ReplicationException(ReplicationException.Kind.CONFIGURATION, "Mapping '" + tree.name()
            + "' reads column family '" + tree.treeName() + "', which "
            + (storeDir != null
                ? "the store at " + storeDir + " does not have (it has " + new TreeSet<>(families.keySet()) + ")."
                : "kv2pg cannot find: with source(RocksDB), a mapping that names its column family finds only"
                    + " the default one and those whose handles other mappings of the replication hold."
                    + " Build it with TreeMapping.builder(columnFamilyHandle)."),
            null, tree.name(), tree.treeName(), null, -1);
      }
      plans.add(tree.plan(handle));
    }
    return plans;
  }

  @Override
  public String toString() {
    return "Replication[name=" + name + ", postgres=" + postgres.describe() + ", trees=" + trees + "]";
  }

  /**
   * Builds a {@link Replication}. Each setter checks its argument at once and names the property in
   * the exception; {@link #build()} checks that the required ones were set. Not thread-safe.
   */
  public static final class Builder {
    private String name = "default";
    private RocksDB database;
    private Path storeDir;
    private Path followerDir;
    private String jdbcUrl;
    private DataSource dataSource;
    private final List<TreeMapping> trees = new ArrayList<>();
    private int copyChunkRows = ReplicationEngine.Settings.DEFAULT_COPY_CHUNK_ROWS;
    private Duration stallAfter = ReplicationEngine.Settings.DEFAULT_STALL_AFTER;
    private MeterRegistry meterRegistry;
    private OnDataError onDataError = OnDataError.FAIL;
    private OnGap onGap = OnGap.FAIL;

    private Builder() {}

    /**
     * Sets the Postgres JDBC URL, such as {@code
     * jdbc:postgresql://localhost:5432/app?user=app&password=secret}. kv2pg opens one connection
     * with it. The password is never logged or shown.
     */
    public Builder postgres(String jdbcUrl) {
      PostgresConnector.requireUrl(jdbcUrl);
      if (dataSource != null) {
        throw new IllegalStateException("postgres was already set to a DataSource");
      }
      this.jdbcUrl = jdbcUrl;
      return this;
    }

    /**
     * Sets the data source that kv2pg takes its one connection from. Its connections must reach
     * PostgreSQL; kv2pg turns auto-commit off on the connection it holds.
     */
    public Builder postgres(DataSource dataSource) {
      Objects.requireNonNull(dataSource, "postgres dataSource must not be null");
      if (jdbcUrl != null) {
        throw new IllegalStateException("postgres was already set to a JDBC URL");
      }
      this.dataSource = dataSource;
      return this;
    }

    /**
     * Sets the store to replicate: an open RocksDB that the application keeps open until the
     * replication is stopped.
     */
    public Builder source(RocksDB database) {
      Objects.requireNonNull(database, "source must not be null");
      if (storeDir != null) {
        throw new IllegalStateException("follow was already set: use either source(rocksDb) or follow(storeDir)");
      }
      if (!database.isOwningHandle()) {
        throw new IllegalArgumentException("source is closed, or does not own its database (as"
            + " OptimisticTransactionDB.getBaseDB() does not): pass the open RocksDB, TransactionDB or"
            + " OptimisticTransactionDB itself");
      }
      this.database = database;
      return this;
    }

    /**
     * Follows the store in {@code storeDir}, which another process (in any language) owns and
     * writes, instead of a database this application opened ({@link #source(RocksDB)}; exactly one
     * of the two). At {@link #start()} kv2pg reads the store's newest {@code OPTIONS} file (its
     * owner's options), checks that the owner keeps its WAL files ({@code WAL_ttl_seconds} or
     * {@code WAL_size_limit_MB}), then opens the store as a read-only RocksDB secondary instance,
     * with its own files in the {@linkplain #followerDir(Path) follower's folder}, and catches up
     * with the owner before each read of the log. kv2pg never writes a file in {@code storeDir}.
     * The owner may run, restart or be stopped meanwhile. Mappings name their column family:
     * {@link TreeMapping#builder(String)}.
     *
     * @param storeDir the folder the store's owner opens; checked when the replication starts
     */
    public Builder follow(Path storeDir) {
      Objects.requireNonNull(storeDir, "follow storeDir must not be null");
      if (database != null) {
        throw new IllegalStateException("source was already set: use either source(rocksDb) or follow(storeDir)");
      }
      this.storeDir = storeDir.toAbsolutePath().normalize();
      return this;
    }

    /**
     * Sets the folder for the follower's own files (RocksDB's info log of the secondary instance),
     * created if missing; only with {@link #follow(Path)}. Default: a temporary folder that kv2pg
     * creates at start and deletes when the replication stops. It must not be the store's folder
     * nor lie inside it.
     */
    public Builder followerDir(Path followerDir) {
      Objects.requireNonNull(followerDir, "followerDir must not be null");
      this.followerDir = followerDir.toAbsolutePath().normalize();
      return this;
    }

    /**
     * Sets the replication's name, which identifies its checkpoint in Postgres (default {@code
     * "default"}): letters, digits, {@code _ . -}, at most 100 characters.
     */
    public Builder name(String name) {
      Objects.requireNonNull(name, "name must not be null");
      if (!NAME.matcher(name).matches()) {
        throw new IllegalArgumentException(
            "name must be 1 to 100 letters, digits, '_', '.' or '-' but was '" + name + "'");
      }
      this.name = name;
      return this;
    }

    /** Adds a tree mapping; call once per mapping. At least one is required. */
    public Builder tree(TreeMapping mapping) {
      trees.add(Objects.requireNonNull(mapping, "tree must not be null"));
      return this;
    }

    /**
     * Sets how long the replication may be behind the store without committing anything before it
     * counts as stalled (default 60 s): then it logs one warning naming what it waits for, and
     * {@link ReplicationStatus#stalled()} and the {@code kv2pg.stalled} gauge say so until it
     * commits again (logged once more).
     *
     * @param stallAfter at least one second
     */
    public Builder stallAfter(Duration stallAfter) {
      Objects.requireNonNull(stallAfter, "stallAfter must not be null");
      if (stallAfter.compareTo(Duration.ofSeconds(1)) < 0) {
        throw new IllegalArgumentException("stallAfter must be at least 1 s but was " + stallAfter);
      }
      this.stallAfter = stallAfter;
      return this;
    }

    /**
     * Publishes the replication's metrics to a Micrometer registry (optional: without a call,
     * kv2pg loads no Micrometer class, and the dependency may be left out). Every meter is tagged
     * {@code replication=<name>}: {@code kv2pg.lag} (seconds), {@code kv2pg.lag.sequences}, {@code
     * kv2pg.rows.applied} (tagged {@code mapping}, {@code op=upsert|delete}), {@code kv2pg.commits},
     * {@code kv2pg.commit.duration}, {@code kv2pg.retries} (tagged {@code sqlstate.class}), {@code
     * kv2pg.copy.rows} (tagged {@code mapping}), {@code kv2pg.dead.letters}, {@code kv2pg.gaps.recopied}, {@code
     * kv2pg.queue.bytes}, {@code kv2pg.state} (tagged {@code state}, 1 for the current one) and
     * {@code kv2pg.stalled}. They are registered at start and removed when the replication is
     * stopped; docs/OPERATIONS.md says what each means.
     */
    public Builder meterRegistry(MeterRegistry registry) {
      this.meterRegistry = Objects.requireNonNull(registry, "meterRegistry must not be null");
      return this;
    }

    /**
     * Sets what to do with a change that its data makes impossible to apply (default {@link
     * OnDataError#FAIL}): stop, or set it aside as a {@link DeadLetter} and go on.
     */
    public Builder onDataError(OnDataError onDataError) {
      this.onDataError = Objects.requireNonNull(onDataError, "onDataError must not be null");
      return this;
    }

    /**
     * Sets what a gap in the store's write-ahead log does (default {@link OnGap#FAIL}): fail with
     * a {@link SequenceGapException}, or {@linkplain OnGap#RECOPY copy every mapping again} from a
     * new snapshot and stream on.
     *
     * @param onGap the policy; must not be {@code null}
     * @throws NullPointerException if {@code onGap} is {@code null}
     */
    public Builder onGap(OnGap onGap) {
      this.onGap = Objects.requireNonNull(onGap, "onGap must not be null");
      return this;
    }

    /** Sets the rows per initial-copy transaction; tests use small chunks to stop a copy mid-table. */
    Builder copyChunkRows(int rows) {
      if (rows < 1) {
        throw new IllegalArgumentException("copyChunkRows must be positive but was " + rows);
      }
      this.copyChunkRows = rows;
      return this;
    }

    /**
     * Returns the replication.
     *
     * @throws IllegalStateException if postgres, source (or follow) or a tree is missing, two
     *     mappings have the same name, a followed store's mapping holds a handle, or followerDir is
     *     set without follow or inside the store's folder
     */
    public Replication build() {
      if (jdbcUrl == null && dataSource == null) {
        throw new IllegalStateException("postgres is required: call postgres(jdbcUrl) or postgres(dataSource)");
      }
      if (database == null && storeDir == null) {
        throw new IllegalStateException("source is required: call source(rocksDb) or follow(storeDir)");
      }
      if (followerDir != null) {
        if (storeDir == null) {
          throw new IllegalStateException("followerDir needs follow(storeDir)");
        }
        if (followerDir.startsWith(storeDir)) {
          throw new IllegalStateException("followerDir " + followerDir + " must not be the followed store's folder"
              + " nor lie inside it: kv2pg never writes in " + storeDir);
        }
      }
      if (trees.isEmpty()) {
        throw new IllegalStateException("at least one tree is required: call tree(mapping)");
      }
      Set<String> names = new HashSet<>();
      for (TreeMapping tree : trees) {
        if (storeDir != null && tree.columnFamily() != null) {
          throw new IllegalStateException("tree mapping '" + tree.name() + "' holds a column family handle, but a"
              + " followed store's mappings name their column family: use TreeMapping.builder(\"" + tree.treeName()
              + "\")");
        }
        if (!names.add(tree.name())) {
          throw new IllegalStateException("two tree mappings are named '" + tree.name()
              + "'; give one a distinct TreeMapping.Builder.name(...)");
        }
      }
      return new Replication(this);
    }
  }
}
