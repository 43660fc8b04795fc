package io.kv2pg;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import io.kv2pg.TableDiff.Table;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.OptimisticTransactionDB;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.Status;
import org.rocksdb.Transaction;
import org.rocksdb.TransactionDB;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The randomized model test on declared tables: four declared tables over three trees (an int64
 * key with JSON value fields; a composite {@code int32At/utf8From} key with a raw {@code bytea}
 * value; a table keyed by the raw key only; a merged text log keyed by UTF-8), unmapped keys
 * between and around the mapped prefixes, an unmapped tree and the default tree. Random puts,
 * deletes, overwrites, merges (the {@code stringappend} operator; kv2pg reads the merged value
 * back) and range deletes (narrow ones, ones crossing prefix boundaries, ones in the same write
 * batch as puts inside them), written before the first start, during an initial copy that is
 * stopped half-way and resumed, while streaming, and while stopped. After every phase each table
 * must hold exactly the store's entries for its mapping: every row, every column.
 *
 * <p>The same model runs on a plain {@link RocksDB}, on a pessimistic {@link TransactionDB}
 * (writes in transactions that commit, roll back, or roll back to a save point; RocksDB refuses
 * range deletes on a TransactionDB, so that store gets none) and on an {@link
 * OptimisticTransactionDB} (transactions, plus range deletes through its base database, since it
 * refuses them itself; the replication reads the OptimisticTransactionDB itself, as the builder
 * refuses {@code getBaseDB()}, a handle that does not own the database). On a plain store it also
 * runs with every table hash-partitioned ({@link TreeMapping.Builder#partitions(int)}).
 *
 * <p>Every run is driven by a seed, printed and repeated in every assertion message: rerun a
 * failure with {@code -Dkv2pg.declared.seed=<seed> -Dkv2pg.declared.store=<PLAIN|TRANSACTION_DB|
 * OPTIMISTIC_TRANSACTION_DB>} (the fresh-seed test).
 */
class DeclaredModelTest {
  private static final Duration CATCH_UP = Duration.ofSeconds(120);
  private static final Duration STATE_WAIT = Duration.ofSeconds(120);
  private static final String NAME = "declared-model";
  private static final HexFormat HEX = HexFormat.of();

  private static final int ACCOUNT_IDS = 60_000;
  /** More than two copy chunks (20,000 rows), so that a stop after the first lands mid-table. */
  private static final int SEEDED_ACCOUNTS = 48_000;
  private static final int EVENT_IDS = 3_000;
  private static final int LOG_IDS = 1_500;

  private static final byte[] EV = "ev:".getBytes(UTF_8);
  private static final byte[] EW = "ew".getBytes(UTF_8);
  private static final String[] NOISE_PREFIXES = {"", "e", "eu", "ev", "ev;", "ev9", "evz", "ex", "f", "\u0000"};

  /** How the store is opened and written. */
  enum StoreKind {
    PLAIN, TRANSACTION_DB, OPTIMISTIC_TRANSACTION_DB
  }

  @TempDir Path dir;

  @ParameterizedTest(name = "{0}, seed {1}")
  @CsvSource({"PLAIN, 1", "PLAIN, 8164093352261", "TRANSACTION_DB, 2", "OPTIMISTIC_TRANSACTION_DB, 3"})
  void fixedSeed(StoreKind kind, long seed) throws Exception {
    new Run(kind, seed, dir).run();
  }

  /**
   * The same model on hash-partitioned tables: by a bigint, an int, a text key column, and by the
   * raw key column (renamed) of the table without key columns.
   */
  @Test
  void partitionedTables() throws Exception {
    new Run(StoreKind.PLAIN, 4, dir, 5).run();
  }

  @Test
  void freshSeed() throws Exception {
    String configured = System.getProperty("kv2pg.declared.seed");
    long seed = configured != null ? Long.parseLong(configured) : System.nanoTime();
    String configuredKind = System.getProperty("kv2pg.declared.store");
    StoreKind kind = configuredKind != null
        ? StoreKind.valueOf(configuredKind)
        : StoreKind.values()[(int) Math.floorMod(seed, (long) StoreKind.values().length)];
    System.out.println("DeclaredModelTest.freshSeed: store " + kind + ", seed " + seed
        + " (rerun with -Dkv2pg.declared.seed=" + seed + " -Dkv2pg.declared.store=" + kind + ")");
    new Run(kind, seed, dir).run();
  }

  /**
   * A two-phase transaction (setName, prepare, commit) writes prepare markers that kv2pg cannot
   * replicate: the replication fails, names the two-phase prepare, and keeps what it committed.
   */
  @Test
  void twoPhasePrepareFailsTheReplicationNamingIt() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.openTransactionDb(dir, "logs");
        WriteOptions writeOptions = new WriteOptions()) {
      TransactionDB db = (TransactionDB) store.db;
      ColumnFamilyHandle logs = store.family("logs");
      Replication replication = Replication.builder().postgres(url).source(db).name("two-phase")
          .tree(logsMapping(logs)).build();
      try (RunningReplication running = replication.start()) {
        db.put(logs, utf8("log-1"), utf8("a"));
        try (Transaction transaction = db.beginTransaction(writeOptions)) {
          transaction.put(logs, utf8("log-2"), utf8("b"));
          transaction.merge(logs, utf8("log-1"), utf8("c"));
          transaction.commit();
        }
        assertThat(running.awaitCaughtUp(CATCH_UP)).as("caught up: %s", running.status()).isTrue();
        List<String> before = TableDiff.storeRows(store, "logs", new byte[0], DeclaredModelTest::renderLog);
        assertThat(before).containsExactly("log-1|a,c|612c63|6c6f672d31", "log-2|b|62|6c6f672d32");
        assertThat(TableDiff.tableRows(url, LOGS_SELECT)).isEqualTo(before);

        long beforePrepare = db.getLatestSequenceNumber();
        try (Transaction transaction = db.beginTransaction(writeOptions)) {
          transaction.setName("xid-declared");
          transaction.put(logs, utf8("log-3"), utf8("prepared"));
          transaction.merge(logs, utf8("log-1"), utf8("d"));
          transaction.prepare();
          transaction.commit();
        }
        db.put(logs, utf8("log-4"), utf8("after"));

        ReplicationException failure = awaitFailure(running);
        assertThat(failure.getMessage()).contains("two-phase commit prepare", "prepare()");
        assertThat(failure.sequence()).isPresent();
        assertThat(failure.sequence().getAsLong()).isGreaterThan(beforePrepare);
        running.stop(); // waits for the writer thread, which records the failure after FAILED shows
        assertThat(running.status().state()).isEqualTo(ReplicationState.FAILED);
        // Nothing of the prepared transaction, nor of what follows it, reached the table.
        assertThat(TableDiff.tableRows(url, LOGS_SELECT)).isEqualTo(before);
        assertThat(TestPostgres.query(url, "select applied_sequence, failure from kv2pg.replication"
                + " where name = 'two-phase'"))
            .containsExactly(List.of(beforePrepare, failure.getMessage()));
      }
    }
  }

  // ------------------------------------------------------------------ tables (shared by the tests)

  private static final String ACCOUNTS_SELECT =
      "select id, owner, balance, vip, city, doc::text, kv_key from accounts";
  private static final String EVENTS_SELECT = "select shard, name, payload, kv_key from events";
  private static final String EW_SELECT = "select k, v from ew_raw";
  private static final String LOGS_SELECT = "select name, body, raw, kv_key from logs";

  static TreeMapping accountsMapping(ColumnFamilyHandle accounts) {
    return accountsMapping(accounts, 0);
  }

  /** The mapping, its table hash-partitioned into {@code partitions} unless that is 0. */
  static TreeMapping accountsMapping(ColumnFamilyHandle accounts, int partitions) {
    TreeMapping.Builder builder = TreeMapping.builder(accounts)
        .table("accounts")
        .keyColumn("id", Decoders.int64())
        .valueColumn("owner", Decoders.jsonText("owner"))
        .valueColumn("balance", Decoders.jsonLong("balance"))
        .valueColumn("vip", Decoders.jsonBoolean("flags.vip"))
        .valueColumn("city", Decoders.jsonText("/address/city"))
        .valueColumn("doc", Decoders.json());
    return partitions > 0 ? builder.partitions(partitions).build() : builder.build();
  }

  static TreeMapping eventsMapping(ColumnFamilyHandle events) {
    return eventsMapping(events, 0);
  }

  /** The mapping, its table hash-partitioned into {@code partitions} unless that is 0. */
  static TreeMapping eventsMapping(ColumnFamilyHandle events, int partitions) {
    TreeMapping.Builder builder = TreeMapping.builder(events)
        .prefix(EV)
        .table("events")
        .keyColumn("shard", Decoders.int32At(0))
        .keyColumn("name", Decoders.utf8From(4))
        .valueColumn("payload", Decoders.bytes());
    return partitions > 0 ? builder.partitions(partitions).build() : builder.build();
  }

  static TreeMapping ewMapping(ColumnFamilyHandle events) {
    return ewMapping(events, 0);
  }

  /** The mapping, its table hash-partitioned into {@code partitions} unless that is 0. */
  static TreeMapping ewMapping(ColumnFamilyHandle events, int partitions) {
    TreeMapping.Builder builder = TreeMapping.builder(events)
        .prefix(EW)
        .table("ew_raw")
        .rawKeyColumn("k")
        .valueColumn("v", Decoders.bytes());
    return partitions > 0 ? builder.partitions(partitions).build() : builder.build();
  }

  static TreeMapping logsMapping(ColumnFamilyHandle logs) {
    return logsMapping(logs, 0);
  }

  /** The mapping, its table hash-partitioned into {@code partitions} unless that is 0. */
  static TreeMapping logsMapping(ColumnFamilyHandle logs, int partitions) {
    TreeMapping.Builder builder = TreeMapping.builder(logs)
        .table("logs")
        .keyColumn("name", Decoders.utf8())
        .valueColumn("body", Decoders.utf8())
        .valueColumn("raw", Decoders.bytes());
    return partitions > 0 ? builder.partitions(partitions).build() : builder.build();
  }

  static String renderEvent(byte[][] entry) {
    byte[] key = entry[0];
    return ByteBuffer.wrap(key, EV.length, 4).getInt() + "|"
        + new String(key, EV.length + 4, key.length - EV.length - 4, UTF_8) + "|"
        + HEX.formatHex(entry[1]) + "|" + HEX.formatHex(key);
  }

  static String renderEw(byte[][] entry) {
    return HEX.formatHex(entry[0]) + "|" + HEX.formatHex(entry[1]);
  }

  static String renderLog(byte[][] entry) {
    return new String(entry[0], UTF_8) + "|" + new String(entry[1], UTF_8) + "|"
        + HEX.formatHex(entry[1]) + "|" + HEX.formatHex(entry[0]);
  }

  /** Waits for the replication to fail (without stopping it), and returns its failure. */
  static ReplicationException awaitFailure(RunningReplication running) {
    return Await.state(running, STATE_WAIT, ReplicationState.FAILED).failure().orElseThrow();
  }

  static byte[] utf8(String text) {
    return text.getBytes(UTF_8);
  }

  static byte[] concat(byte[] a, byte[] b) {
    byte[] both = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, both, a.length, b.length);
    return both;
  }

  // ------------------------------------------------------------------ the model run

  /** One write: a range delete keeps its end in {@code value}. */
  private record Op(Type type, ColumnFamilyHandle family, byte[] key, byte[] value) {
    enum Type { PUT, DELETE, MERGE, RANGE }
  }

  /** The decoded fields of a generated account value (null: SQL NULL). */
  private record Account(String json, String owner, Long balance, Boolean vip, String city) {}

  private static final class Run {
    private final StoreKind kind;
    private final int partitions;
    private final long seed;
    private final Path dir;
    private final Random random;
    private TestStore store;
    private String url;
    private ColumnFamilyHandle accounts;
    private ColumnFamilyHandle events;
    private ColumnFamilyHandle logs;
    private ColumnFamilyHandle other;
    private ColumnFamilyHandle defaultFamily;
    private WriteOptions writeOptions;
    /** The replication started last. */
    private RunningReplication running;
    /** Where range deletes and write batches with range deletes go (the base DB when optimistic). */
    private RocksDB rangeTarget;

    /** Every account value generated, by its bytes: how the test decodes it, without kv2pg. */
    private final Map<ByteBuffer, Account> accountValues = new ConcurrentHashMap<>();
    /** Account JSON documents as Postgres renders them once stored as jsonb. */
    private final Map<String, String> normalizedJson = new ConcurrentHashMap<>();

    private final AtomicLong puts = new AtomicLong();
    private final AtomicLong deletes = new AtomicLong();
    private final AtomicLong merges = new AtomicLong();
    private final AtomicLong ranges = new AtomicLong();
    private final AtomicLong batches = new AtomicLong();
    private final AtomicLong commits = new AtomicLong();
    private final AtomicLong rollbacks = new AtomicLong();
    private final AtomicLong savePointRollbacks = new AtomicLong();
    private final AtomicLong conflicts = new AtomicLong();
    private final AtomicLong stepsWhileCopying = new AtomicLong();

    Run(StoreKind kind, long seed, Path dir) {
      this(kind, seed, dir, 0);
    }

    /** A run whose tables are hash-partitioned into {@code partitions}, unless that is 0. */
    Run(StoreKind kind, long seed, Path dir, int partitions) {
      this.partitions = partitions;
      this.kind = kind;
      this.seed = seed;
      this.dir = dir;
      this.random = new Random(seed);
    }

    void run() throws Exception {
      try {
        runPhases();
      } catch (AssertionError e) {
        throw e;
      } catch (Exception | Error e) {
        throw new AssertionError(context("run") + ": " + e, e);
      }
    }

    TestStore open() throws RocksDBException {
      String[] families = {"accounts", "events", "logs", "other"};
      return switch (kind) {
        case PLAIN -> TestStore.open(dir, families);
        case TRANSACTION_DB -> TestStore.openTransactionDb(dir, families);
        case OPTIMISTIC_TRANSACTION_DB -> TestStore.openOptimisticTransactionDb(dir, families);
      };
    }

    void runPhases() throws Exception {
      url = TestPostgres.newDatabase();
      try (TestStore opened = open(); WriteOptions options = new WriteOptions()) {
        store = opened;
        try {
          runPhases(options);
        } finally {
          if (running != null) {
            running.stop(); // never close the store under a running replication: the JVM would crash
          }
        }
      }
      if (partitions > 0) {
        assertThat(TestPostgres.query(url, "select partrelid::regclass::text, pg_get_partkeydef(partrelid),"
            + " (select count(*) from pg_inherits where inhparent = partrelid) from pg_partitioned_table"
            + " order by 1")).as(context("partitioned tables")).containsExactly(
                List.of("accounts", "HASH (id)", (long) partitions), List.of("events", "HASH (shard)", (long) partitions),
                List.of("ew_raw", "HASH (k)", (long) partitions), List.of("logs", "HASH (name)", (long) partitions));
      }
    }

    void runPhases(WriteOptions options) throws Exception {
      writeOptions = options;
      accounts = store.family("accounts");
      events = store.family("events");
      logs = store.family("logs");
      other = store.family("other");
      defaultFamily = store.family("default");
      rangeTarget = store.db;
      if (store.db instanceof OptimisticTransactionDB optimistic) {
        // It refuses deleteRange (NotSupported); its base database takes them.
        rangeTarget = optimistic.getBaseDB();
        assertThatThrownBy(() -> Replication.builder().source(rangeTarget))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("getBaseDB()");
      }
      List<Table> tables = List.of(
          new Table("accounts", ACCOUNTS_SELECT, "accounts", new byte[0], this::renderAccount),
          new Table("events", EVENTS_SELECT, "events", EV, DeclaredModelTest::renderEvent),
          new Table("ew_raw", EW_SELECT, "events", EW, DeclaredModelTest::renderEw),
          new Table("logs", LOGS_SELECT, "logs", new byte[0], DeclaredModelTest::renderLog));

      // Phase 1: the store holds data before the replication ever starts.
      seedStore();
      System.out.printf("DeclaredModelTest %s seed %d: seeded, %s%n", kind, seed, sizes(tables));

      // Phase 2a: first start, a second thread writing; stopped once the copy committed a chunk.
      RunningReplication running = start();
      BackgroundWriter writer = new BackgroundWriter(running, new Random(seed * 31 + 17), -1);
      try {
        Await.status(running, STATE_WAIT, context("phase 2a: copy progress"), status -> {
          if (status.state() == ReplicationState.FAILED) {
            fail(context("phase 2a: failed during the copy: " + status.failure().orElseThrow()));
          }
          return status.state() == ReplicationState.STREAMING
              || (status.state() == ReplicationState.COPYING && status.rowsApplied() > 0);
        });
        running.stop();
      } finally {
        writer.finish("phase 2a");
      }
      assertThat(running.status().state()).as(context("phase 2a: state after stop"))
          .isEqualTo(ReplicationState.STOPPED);
      assertThat(running.status().failure()).as(context("phase 2a")).isEmpty();
      List<String> copies = new ArrayList<>();
      for (List<Object> row : copyRows()) {
        copies.add(row.get(0) + (row.get(5) != null ? " completed" : row.get(2) != null
            ? " stopped after " + row.get(3) + " rows" : " not started"));
      }
      System.out.printf("DeclaredModelTest %s seed %d: first start stopped; copies: %s%n", kind, seed, copies);

      // Phase 2b: writes while stopped, then the copy resumes with a second thread writing.
      randomSteps(random, 600);
      running = start();
      writer = new BackgroundWriter(running, new Random(seed * 37 + 5), 300);
      try {
        writer.awaitEnd();
      } finally {
        writer.finish("phase 2b");
      }
      awaitCaughtUp(running, "phase 2b");
      assertThat(running.status().state()).as(context("phase 2b")).isEqualTo(ReplicationState.STREAMING);
      assertTables("phase 2b (copy resumed, writes during the copy and while stopped)", tables);
      assertThat(copyRows()).as(context("phase 2b: every mapping's copy completed"))
          .hasSize(4).allSatisfy(row -> assertThat(row.get(5)).isNotNull());
      assertThat(stepsWhileCopying.get()).as(context("phase 2: write steps made while COPYING")).isPositive();

      try {
        // Phase 3: random writes while streaming, plus the edge cases.
        for (int round = 1; round <= 3; round++) {
          randomSteps(random, 1_500);
          if (round == 2) {
            edgeCases(random);
          }
          awaitCaughtUp(running, "phase 3 round " + round);
          assertTables("phase 3 round " + round, tables);
        }
        VerificationReport report = Verification.of(replication(store.db)).run();
        assertThat(report.isClean()).as(context("phase 3 verification: " + report.format())).isTrue();
        randomSteps(random, 300);
      } finally {
        running.stop(); // drains what was written before it
      }
      assertThat(running.status().state()).as(context("phase 3 stop")).isEqualTo(ReplicationState.STOPPED);
      assertTables("phase 3 (after stop drained)", tables);
      assertCheckpointAtLatest("phase 3 (after stop)");
      List<List<Object>> copiesBefore = copyRows();

      // Phase 4: writes while stopped, edge cases included, streamed at the next start.
      randomSteps(random, 800);
      edgeCases(random);
      running = start();
      try {
        awaitCaughtUp(running, "phase 4 (restart)");
        assertTables("phase 4 (restart after writes while stopped)", tables);
        assertThat(copyRows()).as(context("phase 4: a restart must not copy again")).isEqualTo(copiesBefore);
        randomSteps(random, 800);
        awaitCaughtUp(running, "phase 4 (streaming after restart)");
        assertTables("phase 4 (streaming after restart)", tables);
      } finally {
        running.stop();
      }
      assertThat(running.status().failure()).as(context("end")).isEmpty();
      assertTables("end", tables);
      assertCheckpointAtLatest("end");

      System.out.printf("DeclaredModelTest %s seed %d: end, %s; %d puts, %d deletes, %d merges, %d range"
              + " deletes, %d write batches, %d commits, %d rollbacks, %d save point rollbacks,"
              + " %d conflicts, %d write steps while copying%n",
          kind, seed, sizes(tables), puts.get(), deletes.get(), merges.get(), ranges.get(), batches.get(),
          commits.get(), rollbacks.get(), savePointRollbacks.get(), conflicts.get(), stepsWhileCopying.get());
      assertThat(merges.get()).as(context("merges written")).isPositive();
      if (kind == StoreKind.TRANSACTION_DB) {
        assertThat(ranges.get()).as(context("range deletes (unsupported by TransactionDB)")).isZero();
      } else {
        assertThat(ranges.get()).as(context("range deletes written")).isPositive();
      }
      if (kind != StoreKind.PLAIN) {
        assertThat(commits.get()).as(context("transactions committed")).isPositive();
        assertThat(rollbacks.get()).as(context("transactions rolled back")).isPositive();
        assertThat(savePointRollbacks.get()).as(context("save point rollbacks")).isPositive();
      }
    }

    // ------------------------------------------------------------------ replication

    Replication replication(RocksDB source) {
      return Replication.builder().postgres(url).source(source).name(NAME).copyChunkRows(20_000)
          .tree(accountsMapping(accounts, partitions))
          .tree(eventsMapping(events, partitions))
          .tree(ewMapping(events, partitions))
          .tree(logsMapping(logs, partitions))
          .build();
    }

    /**
     * Starts reading {@code store.db} itself, also when it is an OptimisticTransactionDB: the
     * builder refuses its {@code getBaseDB()}, a handle that does not own the database.
     */
    RunningReplication start() {
      running = replication(store.db).start();
      return running;
    }

    /** Writes from a second thread until halted, or {@code afterStreaming} steps after STREAMING. */
    private final class BackgroundWriter {
      private final AtomicBoolean halt = new AtomicBoolean();
      private final FutureTask<Void> task;
      private final Thread thread;

      BackgroundWriter(RunningReplication running, Random r, int afterStreaming) {
        task = new FutureTask<>(() -> {
          long streamingSteps = 0;
          long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
          while (!halt.get() && System.nanoTime() < deadline) {
            ReplicationState before = running.status().state();
            if (before == ReplicationState.FAILED || before == ReplicationState.STOPPED
                || (before == ReplicationState.STREAMING && afterStreaming >= 0 && streamingSteps >= afterStreaming)) {
              break;
            }
            randomStep(r);
            ReplicationState after = running.status().state();
            if (before == ReplicationState.COPYING && after == ReplicationState.COPYING) {
              stepsWhileCopying.incrementAndGet();
            } else if (before == ReplicationState.STREAMING) {
              streamingSteps++;
            }
            LockSupport.parkNanos(100_000); // pacing, so that the writes spread over the whole copy
          }
          return null;
        });
        thread = new Thread(task, "declared-model-writer-" + seed);
        thread.start();
      }

      void awaitEnd() throws Exception {
        try {
          task.get(240, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
          throw new AssertionError(context("the concurrent writer failed"), e.getCause());
        }
      }

      void finish(String phase) throws Exception {
        halt.set(true); // never let it write into a closed store
        thread.join();
        try {
          task.get();
        } catch (ExecutionException e) {
          throw new AssertionError(context(phase + ": the concurrent writer failed"), e.getCause());
        }
      }
    }

    // ------------------------------------------------------------------ phases

    void seedStore() throws RocksDBException {
      List<Op> ops = new ArrayList<>();
      for (int id = 0; id < SEEDED_ACCOUNTS; id++) {
        ops.add(new Op(Op.Type.PUT, accounts, accountKey(id), accountValue(random)));
        if (ops.size() == 1_000) {
          group(ops, false);
          ops.clear();
        }
      }
      for (int i = 0; i < 14_000; i++) {
        int which = random.nextInt(100);
        byte[] key = which < 85 ? eventKey(random) : which < 95 ? ewKey(random) : noiseKey(random);
        ops.add(new Op(Op.Type.PUT, events, key, bytes(random, random.nextInt(25))));
        if (ops.size() == 1_000) {
          group(ops, false);
          ops.clear();
        }
      }
      for (int b = 0; b < 12; b++) {
        for (int i = 0; i < 500; i++) {
          ops.add(randomOp(random));
        }
        group(ops, false);
        ops.clear();
      }
      randomSteps(random, 400);
    }

    /** Batches that test the corner cases; a TransactionDB gets them without their range deletes. */
    void edgeCases(Random r) throws RocksDBException {
      // A range delete in the same batch as puts inside it, before (void) and after (kept).
      int shard = r.nextInt(8);
      String stem = "n" + (10 + r.nextInt(90));
      byte[] begin = eventKey(shard, stem);
      byte[] end = prefixEnd(begin);
      writeEdgeCase(List.of(
          new Op(Op.Type.PUT, events, eventKey(shard, stem), bytes(r, 3)),
          new Op(Op.Type.PUT, events, eventKey(shard, stem + "0"), bytes(r, 4)),
          new Op(Op.Type.PUT, events, eventKey(shard, stem + "1"), bytes(r, 5)),
          new Op(Op.Type.MERGE, events, eventKey(shard, stem + "2"), utf8("m1")),
          new Op(Op.Type.RANGE, events, begin, end),
          new Op(Op.Type.PUT, events, eventKey(shard, stem + "1"), bytes(r, 6)), // survives
          new Op(Op.Type.MERGE, events, eventKey(shard, stem + "3"), utf8("m2")), // survives, value "m2"
          new Op(Op.Type.DELETE, events, eventKey(shard, stem + "0"), null)));
      // Range deletes that cross prefix boundaries (noise -> ev:, ev: -> noise -> ew, ew -> noise),
      // with puts inside them after the range, into both mapped prefixes and the unmapped keys.
      writeEdgeCase(List.of(
          new Op(Op.Type.RANGE, events, utf8("eu"), eventKey(0, "n2")),
          new Op(Op.Type.RANGE, events, eventKey(7, "n5"), concat(EW, new byte[] {0x20})),
          new Op(Op.Type.RANGE, events, concat(EW, new byte[] {(byte) 0xf0}), utf8("ex\u0001")),
          new Op(Op.Type.PUT, events, eventKey(0, "n1"), bytes(r, 2)),
          new Op(Op.Type.PUT, events, eventKey(7, "n6"), bytes(r, 2)),
          new Op(Op.Type.PUT, events, eventKey(-1, "last"), bytes(r, 2)),
          new Op(Op.Type.PUT, events, utf8("ev;x"), bytes(r, 2)),
          new Op(Op.Type.PUT, events, concat(EW, new byte[] {0x10}), bytes(r, 2)),
          new Op(Op.Type.PUT, events, EW.clone(), bytes(r, 2)), // the key that equals the prefix
          new Op(Op.Type.PUT, events, concat(EW, new byte[] {(byte) 0xf5}), bytes(r, 2))));
      // Merges around a range delete and a delete in one batch; a put merged onto.
      String log = "log-" + r.nextInt(LOG_IDS);
      String log2 = "log-" + r.nextInt(LOG_IDS) + "x";
      String log3 = "log-" + r.nextInt(LOG_IDS) + "y";
      writeEdgeCase(List.of(
          new Op(Op.Type.MERGE, logs, utf8(log), utf8("a")),
          new Op(Op.Type.MERGE, logs, utf8(log), utf8("b")),
          new Op(Op.Type.RANGE, logs, utf8(log), prefixEnd(utf8(log))),
          new Op(Op.Type.MERGE, logs, utf8(log), utf8("c")),
          new Op(Op.Type.MERGE, logs, utf8(log2), utf8("p")),
          new Op(Op.Type.DELETE, logs, utf8(log2), null),
          new Op(Op.Type.MERGE, logs, utf8(log2), utf8("q")),
          new Op(Op.Type.PUT, logs, utf8(log3), utf8("base")),
          new Op(Op.Type.MERGE, logs, utf8(log3), utf8("x\u00e9"))));
      // Accounts: put twice, put then delete of a new key, delete then put, a range with a put inside.
      int id = r.nextInt(ACCOUNT_IDS - 100);
      writeEdgeCase(List.of(
          new Op(Op.Type.PUT, accounts, accountKey(id), accountValue(r)),
          new Op(Op.Type.PUT, accounts, accountKey(id), accountValue(r)),
          new Op(Op.Type.PUT, accounts, accountKey(ACCOUNT_IDS + 7), accountValue(r)),
          new Op(Op.Type.DELETE, accounts, accountKey(ACCOUNT_IDS + 7), null),
          new Op(Op.Type.DELETE, accounts, accountKey(id + 1), null),
          new Op(Op.Type.PUT, accounts, accountKey(id + 1), accountValue(r)),
          new Op(Op.Type.RANGE, accounts, accountKey(id + 10), accountKey(id + 60)),
          new Op(Op.Type.PUT, accounts, accountKey(id + 30), accountValue(r)),
          new Op(Op.Type.RANGE, accounts, new byte[] {0, 0, 0}, new byte[] {0, 0, 0, 0, 0, 0, 0, 5}),
          new Op(Op.Type.PUT, other, utf8("o"), utf8("o")),
          new Op(Op.Type.PUT, defaultFamily, utf8("d"), utf8("d"))));
      // An empty batch (or empty transaction), then one large group: the staged COPY path.
      writeEdgeCase(List.of());
      List<Op> large = new ArrayList<>();
      for (int i = 0; i < 2_500; i++) {
        large.add(new Op(Op.Type.PUT, accounts, accountKey(r.nextInt(ACCOUNT_IDS)), accountValue(r)));
        large.add(randomOp(r));
      }
      writeEdgeCase(large);
    }

    void writeEdgeCase(List<Op> ops) throws RocksDBException {
      if (kind == StoreKind.TRANSACTION_DB) {
        ops = ops.stream().filter(op -> op.type() != Op.Type.RANGE).toList();
      }
      group(ops, false);
    }

    // ------------------------------------------------------------------ writing

    void randomSteps(Random r, int steps) throws RocksDBException {
      for (int i = 0; i < steps; i++) {
        randomStep(r);
      }
    }

    /** One single write (70 %) or a group of 2 to 40 writes (a write batch or a transaction). */
    void randomStep(Random r) throws RocksDBException {
      if (r.nextInt(100) < 70) {
        single(randomOp(r));
        return;
      }
      int size = 2 + r.nextInt(39);
      List<Op> ops = new ArrayList<>(size);
      for (int i = 0; i < size; i++) {
        ops.add(randomOp(r));
      }
      group(ops, true);
    }

    void single(Op op) throws RocksDBException {
      RocksDB db = op.type() == Op.Type.RANGE ? rangeTarget : store.db;
      switch (op.type()) {
        case PUT -> db.put(op.family(), writeOptions, op.key(), op.value());
        case DELETE -> db.delete(op.family(), writeOptions, op.key());
        case MERGE -> db.merge(op.family(), writeOptions, op.key(), op.value());
        case RANGE -> db.deleteRange(op.family(), writeOptions, op.key(), op.value());
      }
      count(op);
    }

    /**
     * Writes the operations as one atomic group: a write batch, or (on the transactional stores,
     * mostly) a transaction, which may be rolled back (when allowed) or rolled back in part to a
     * save point.
     */
    void group(List<Op> ops, boolean mayRollBack) throws RocksDBException {
      boolean hasRange = ops.stream().anyMatch(op -> op.type() == Op.Type.RANGE);
      if (kind == StoreKind.PLAIN || hasRange || random(ops).nextInt(5) == 0) {
        try (WriteBatch batch = new WriteBatch()) {
          for (Op op : ops) {
            switch (op.type()) {
              case PUT -> batch.put(op.family(), op.key(), op.value());
              case DELETE -> batch.delete(op.family(), op.key());
              case MERGE -> batch.merge(op.family(), op.key(), op.value());
              case RANGE -> batch.deleteRange(op.family(), op.key(), op.value());
            }
          }
          (hasRange ? rangeTarget : store.db).write(writeOptions, batch);
        }
        ops.forEach(this::count);
        batches.incrementAndGet();
        return;
      }
      Random r = random(ops);
      int savePointAt = ops.size() >= 4 && r.nextInt(6) == 0 ? ops.size() / 2 : -1;
      boolean rollBack = mayRollBack && r.nextInt(8) == 0;
      try (Transaction transaction = beginTransaction()) {
        List<Op> kept = ops;
        for (int i = 0; i < ops.size(); i++) {
          if (i == savePointAt) {
            transaction.setSavePoint();
          }
          Op op = ops.get(i);
          switch (op.type()) {
            case PUT -> transaction.put(op.family(), op.key(), op.value());
            case DELETE -> transaction.delete(op.family(), op.key());
            case MERGE -> transaction.merge(op.family(), op.key(), op.value());
            case RANGE -> throw new IllegalStateException("no range deletes in transactions");
          }
        }
        if (savePointAt >= 0) {
          transaction.rollbackToSavePoint();
          kept = ops.subList(0, savePointAt);
          savePointRollbacks.incrementAndGet();
        }
        if (rollBack) {
          transaction.rollback();
          rollbacks.incrementAndGet();
          return;
        }
        try {
          transaction.commit();
        } catch (RocksDBException e) {
          Status status = e.getStatus();
          if (status != null && status.getCode() == Status.Code.Busy) {
            conflicts.incrementAndGet(); // optimistic conflict: nothing was written
            transaction.rollback();
            return;
          }
          throw e;
        }
        commits.incrementAndGet();
        kept.forEach(this::count);
      }
    }

    /** A random source for the group's choices that does not disturb the caller's sequence. */
    private Random random(List<Op> ops) {
      long mix = seed;
      for (Op op : ops) {
        mix = mix * 31 + Arrays.hashCode(op.key());
      }
      return new Random(mix);
    }

    Transaction beginTransaction() {
      if (store.db instanceof TransactionDB transactional) {
        return transactional.beginTransaction(writeOptions);
      }
      return ((OptimisticTransactionDB) store.db).beginTransaction(writeOptions);
    }

    void count(Op op) {
      switch (op.type()) {
        case PUT -> puts.incrementAndGet();
        case DELETE -> deletes.incrementAndGet();
        case MERGE -> merges.incrementAndGet();
        case RANGE -> ranges.incrementAndGet();
      }
    }

    /** A random write to a random tree. */
    Op randomOp(Random r) {
      int tree = r.nextInt(100);
      int what = r.nextInt(100);
      Op op;
      if (tree < 30) {
        if (what < 62) {
          op = new Op(Op.Type.PUT, accounts, accountKey(r), accountValue(r));
        } else if (what < 98) {
          op = new Op(Op.Type.DELETE, accounts, accountKey(r), null);
        } else {
          op = accountsRange(r);
        }
      } else if (tree < 62) {
        int space = r.nextInt(100);
        byte[] key = space < 55 ? eventKey(r) : space < 80 ? ewKey(r) : noiseKey(r);
        if (what < 58) {
          op = new Op(Op.Type.PUT, events, key, bytes(r, r.nextInt(25)));
        } else if (what < 90) {
          op = new Op(Op.Type.DELETE, events, key, null);
        } else if (what < 98) {
          op = new Op(Op.Type.MERGE, events, key, bytes(r, 1 + r.nextInt(4)));
        } else {
          op = eventsRange(r);
        }
      } else if (tree < 85) {
        byte[] key = logKey(r);
        if (what < 45) {
          op = new Op(Op.Type.MERGE, logs, key, utf8(word(r)));
        } else if (what < 65) {
          op = new Op(Op.Type.PUT, logs, key, utf8(word(r) + "," + word(r)));
        } else if (what < 97) {
          op = new Op(Op.Type.DELETE, logs, key, null);
        } else {
          op = logsRange(r);
        }
      } else if (tree < 95) {
        byte[] key = bytes(r, 1 + r.nextInt(4));
        op = switch (r.nextInt(4)) {
          case 0 -> new Op(Op.Type.PUT, other, key, bytes(r, r.nextInt(9)));
          case 1 -> new Op(Op.Type.DELETE, other, key, null);
          case 2 -> new Op(Op.Type.MERGE, other, key, bytes(r, 2));
          default -> range(other, key, bytes(r, 1 + r.nextInt(4)));
        };
      } else {
        byte[] key = bytes(r, 1 + r.nextInt(6));
        op = r.nextBoolean() ? new Op(Op.Type.PUT, defaultFamily, key, bytes(r, r.nextInt(9)))
            : new Op(Op.Type.DELETE, defaultFamily, key, null);
      }
      if (op.type() == Op.Type.RANGE && kind == StoreKind.TRANSACTION_DB) {
        return new Op(Op.Type.DELETE, op.family(), op.key(), null); // TransactionDB: NotSupported
      }
      return op;
    }

    /** A range delete of [a, b) or [b, a); an empty range becomes the range of one key. */
    static Op range(ColumnFamilyHandle family, byte[] a, byte[] b) {
      int order = Arrays.compareUnsigned(a, b);
      if (order == 0) {
        return new Op(Op.Type.RANGE, family, a, Arrays.copyOf(a, a.length + 1));
      }
      return order < 0 ? new Op(Op.Type.RANGE, family, a, b) : new Op(Op.Type.RANGE, family, b, a);
    }

    Op accountsRange(Random r) {
      int id = r.nextInt(ACCOUNT_IDS);
      if (r.nextInt(20) == 0) { // the top ids and the lowest negative ones, byte-wise
        return range(accounts, accountKey(ACCOUNT_IDS - 1 - r.nextInt(50)), accountKey(-400 - r.nextInt(100)));
      }
      return range(accounts, accountKey(id), accountKey(id + 1 + r.nextInt(40)));
    }

    Op eventsRange(Random r) {
      int kind = r.nextInt(200);
      if (kind == 0) { // wide: between two keys of anywhere in the tree
        return range(events, anyEventsTreeKey(r), anyEventsTreeKey(r));
      }
      if (kind < 12) { // across a prefix boundary
        return switch (r.nextInt(4)) {
          case 0 -> range(events, eventKey(7, "n" + (2 + r.nextInt(8))),
              concat(EW, new byte[] {(byte) r.nextInt(0x30)}));
          case 1 -> range(events, concat(utf8("eu"), bytes(r, 1)), eventKey(0, "n" + r.nextInt(3)));
          case 2 -> range(events, concat(EW, new byte[] {(byte) (0xe0 + r.nextInt(0x20))}),
              concat(utf8("ex"), bytes(r, 1)));
          default -> {
            int shard = r.nextInt(7);
            yield range(events, eventKey(shard, "n" + (5 + r.nextInt(5))), eventKey(shard + 1, "n" + r.nextInt(3)));
          }
        };
      }
      int space = r.nextInt(10);
      byte[] begin = space < 6 ? eventKey(r) : space < 8 ? ewKey(r) : noiseKey(r);
      return range(events, begin, narrowEnd(r, begin));
    }

    Op logsRange(Random r) {
      byte[] begin = logKey(r);
      if (r.nextInt(100) == 0) {
        return range(logs, begin, logKey(r));
      }
      return range(logs, begin, narrowEnd(r, begin));
    }

    /** The end of a narrow range from {@code begin}: just the key, or a few keys that extend it. */
    static byte[] narrowEnd(Random r, byte[] begin) {
      return r.nextBoolean() ? Arrays.copyOf(begin, begin.length + 1) : concat(begin, utf8("5"));
    }

    // ------------------------------------------------------------------ keys and values

    static byte[] accountKey(long id) {
      return ByteBuffer.allocate(8).putLong(id).array();
    }

    static byte[] accountKey(Random r) {
      return accountKey(r.nextInt(20) == 0 ? -1 - r.nextInt(500) : r.nextInt(ACCOUNT_IDS));
    }

    static byte[] eventKey(int shard, String name) {
      byte[] text = utf8(name);
      return ByteBuffer.allocate(EV.length + 4 + text.length).put(EV).putInt(shard).put(text).array();
    }

    static byte[] eventKey(Random r) {
      int shard = r.nextInt(30) == 0 ? -1 : r.nextInt(8);
      String name = r.nextInt(60) == 0 ? "" : (r.nextInt(8) == 0 ? "\u00e9" : "") + "n" + r.nextInt(EVENT_IDS);
      return eventKey(shard, name);
    }

    static byte[] ewKey(Random r) {
      return concat(EW, bytes(r, r.nextInt(4)));
    }

    /** A key of the events tree that neither mapping reads. */
    static byte[] noiseKey(Random r) {
      while (true) {
        byte[] key = concat(utf8(NOISE_PREFIXES[r.nextInt(NOISE_PREFIXES.length)]), bytes(r, 1 + r.nextInt(3)));
        if (!startsWith(key, EV) && !startsWith(key, EW)) {
          return key;
        }
      }
    }

    static byte[] anyEventsTreeKey(Random r) {
      int space = r.nextInt(3);
      return space == 0 ? eventKey(r) : space == 1 ? ewKey(r) : noiseKey(r);
    }

    static byte[] logKey(Random r) {
      return utf8("log-" + r.nextInt(LOG_IDS));
    }

    private static final int[] WORD_CHARS = "abcxyz019-_ \u00e9\u20ac\u4e2d\ud83d\ude00".codePoints().toArray();

    static String word(Random r) {
      StringBuilder word = new StringBuilder();
      int length = 1 + r.nextInt(5);
      for (int i = 0; i < length; i++) {
        word.appendCodePoint(WORD_CHARS[r.nextInt(WORD_CHARS.length)]);
      }
      return word.toString();
    }

    static boolean startsWith(byte[] key, byte[] prefix) {
      return key.length >= prefix.length && Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length);
    }

    static byte[] bytes(Random r, int length) {
      byte[] bytes = new byte[length];
      r.nextBytes(bytes);
      return bytes;
    }

    private static final int[] TEXT_CHARS =
        "abcXYZ 09\"\\/\n\t\r\u0001\u001f'%_,;|{}[]:\u00e9\u00df\u20ac\u4e2d\ud83d\ude00".codePoints().toArray();

    static String text(Random r, int maxLength) {
      StringBuilder text = new StringBuilder();
      int length = r.nextInt(maxLength + 1);
      for (int i = 0; i < length; i++) {
        text.appendCodePoint(TEXT_CHARS[r.nextInt(TEXT_CHARS.length)]);
      }
      return text.toString();
    }

    /** A JSON string literal, escaped in one of the ways JSON allows, chosen at random. */
    static String jsonString(Random r, String text) {
      StringBuilder out = new StringBuilder("\"");
      text.codePoints().forEach(cp -> {
        switch (cp) {
          case '"' -> out.append("\\\"");
          case '\\' -> out.append("\\\\");
          case '/' -> out.append(r.nextBoolean() ? "\\/" : "/");
          case '\n' -> out.append(r.nextBoolean() ? "\\n" : "\\u000a");
          case '\t' -> out.append(r.nextBoolean() ? "\\t" : "\\u0009");
          default -> {
            if (cp < 0x20) {
              out.append(String.format("\\u%04x", cp));
            } else if (cp >= 0x80 && r.nextInt(3) == 0) {
              for (char c : Character.toChars(cp)) {
                out.append(String.format(r.nextBoolean() ? "\\u%04X" : "\\u%04x", (int) c));
              }
            } else {
              out.appendCodePoint(cp);
            }
          }
        }
      });
      return out.append('"').toString();
    }

    private static final String[] SEPARATORS = {",", ", ", ",\n  ", " ,\t", "\r\n,"};

    /** A JSON object of the given members, in random order, with random white space. */
    static String jsonObject(Random r, List<String> members) {
      List<String> shuffled = new ArrayList<>(members);
      Collections.shuffle(shuffled, r);
      StringBuilder out = new StringBuilder(r.nextBoolean() ? "{" : "{ ");
      for (int i = 0; i < shuffled.size(); i++) {
        out.append(i == 0 ? "" : SEPARATORS[r.nextInt(SEPARATORS.length)]).append(shuffled.get(i));
      }
      return out.append(r.nextBoolean() ? "}" : "\n}").toString();
    }

    private static final long[] BALANCES = {0, -1, 1, Long.MAX_VALUE, Long.MIN_VALUE, 9_007_199_254_740_993L,
        -9_007_199_254_740_993L, Integer.MAX_VALUE + 1L};

    /**
     * A JSON account with optional owner (text, number or null), balance (64-bit), flags.vip
     * (boolean) and address.city (text), decoys at other paths, and random escapes and spacing.
     */
    byte[] accountValue(Random r) {
      List<String> members = new ArrayList<>();
      String owner = null;
      int ownerKind = r.nextInt(20);
      if (ownerKind == 1) {
        members.add("\"owner\":null");
      } else if (ownerKind == 2) {
        long number = r.nextInt(100_000) - 50_000;
        owner = Long.toString(number);
        members.add("\"owner\": " + number);
      } else if (ownerKind > 2) {
        owner = text(r, 12);
        members.add("\"owner\":" + jsonString(r, owner));
      }
      Long balance = null;
      int balanceKind = r.nextInt(15);
      if (balanceKind == 1) {
        members.add("\"balance\" : null");
      } else if (balanceKind > 1) {
        balance = r.nextInt(3) == 0 ? BALANCES[r.nextInt(BALANCES.length)]
            : r.nextBoolean() ? (long) r.nextInt() : r.nextLong();
        members.add("\"balance\":" + balance);
      }
      Boolean vip = null;
      if (r.nextInt(8) != 0) {
        List<String> flags = new ArrayList<>();
        int vipKind = r.nextInt(10);
        if (vipKind == 1) {
          flags.add("\"vip\":null");
        } else if (vipKind > 1) {
          vip = r.nextBoolean();
          flags.add("\"vip\":" + vip);
        }
        flags.add("\"level\":" + r.nextInt(10));
        flags.add("\"history\":[{\"vip\":" + r.nextBoolean() + "},[true,null,1.5e3],\"x\"]");
        members.add("\"flags\":" + jsonObject(r, flags));
      }
      String city = null;
      if (r.nextInt(8) != 0) {
        List<String> address = new ArrayList<>();
        int cityKind = r.nextInt(10);
        if (cityKind == 1) {
          address.add("\"city\":null");
        } else if (cityKind > 1) {
          city = text(r, 10);
          address.add("\"city\":" + jsonString(r, city));
        }
        address.add("\"zip\":" + jsonString(r, text(r, 5)));
        members.add("\"address\":" + jsonObject(r, address));
      }
      if (r.nextBoolean()) {
        members.add("\"tags\":[" + jsonString(r, text(r, 4)) + ",{\"owner\":\"decoy\",\"city\":\"decoy\"},"
            + r.nextInt() + ",-0.25,false]");
      }
      String json = jsonObject(r, members);
      byte[] bytes = utf8(json);
      accountValues.put(ByteBuffer.wrap(bytes), new Account(json, owner, balance, vip, city));
      return bytes;
    }

    String renderAccount(byte[][] entry) {
      Account account = accountValues.get(ByteBuffer.wrap(entry[1]));
      if (account == null) {
        throw new AssertionError(context("the store holds an account value the test did not write: "
            + new String(entry[1], UTF_8)));
      }
      String doc = normalizedJson.get(account.json());
      return ByteBuffer.wrap(entry[0]).getLong() + "|" + nullable(account.owner()) + "|"
          + nullable(account.balance()) + "|" + nullable(account.vip()) + "|" + nullable(account.city()) + "|"
          + doc + "|" + HEX.formatHex(entry[0]);
    }

    static String nullable(Object value) {
      return value == null ? "<null>" : value.toString();
    }

    /** Has Postgres render every stored account document as jsonb text, for the doc column. */
    void normalizeStoredDocuments() {
      List<String> missing = new ArrayList<>();
      for (byte[][] entry : store.entries("accounts", new byte[0])) {
        Account account = accountValues.get(ByteBuffer.wrap(entry[1]));
        if (account != null && !normalizedJson.containsKey(account.json())) {
          missing.add(account.json());
        }
      }
      if (missing.isEmpty()) {
        return;
      }
      try (Connection connection = DriverManager.getConnection(url);
          PreparedStatement statement =
              connection.prepareStatement("select d, d::jsonb::text from unnest(?::text[]) as d")) {
        statement.setArray(1, connection.createArrayOf("text", missing.toArray()));
        try (ResultSet rows = statement.executeQuery()) {
          while (rows.next()) {
            normalizedJson.put(rows.getString(1), rows.getString(2));
          }
        }
      } catch (SQLException e) {
        throw new IllegalStateException("cannot normalize JSON documents: " + e.getMessage(), e);
      }
    }

    static byte[] prefixEnd(byte[] prefix) {
      byte[] end = io.kv2pg.internal.change.KeyRanges.prefixEnd(prefix);
      return end != null ? end : Arrays.copyOf(prefix, prefix.length + 1);
    }

    // ------------------------------------------------------------------ checks

    String context(String phase) {
      return "store " + kind + ", seed " + seed + ", " + phase;
    }

    String sizes(List<Table> tables) {
      List<String> sizes = new ArrayList<>();
      for (Table table : tables) {
        sizes.add(table.name() + " " + store.entries(table.family(), table.prefix()).size());
      }
      return "store entries: " + String.join(", ", sizes);
    }

    void awaitCaughtUp(RunningReplication running, String phase) throws InterruptedException {
      Await.caughtUp(running, CATCH_UP, context(phase));
    }

    void assertTables(String phase, List<Table> tables) {
      normalizeStoredDocuments();
      int total = 0;
      for (Table table : tables) {
        List<String> expected = table.storeRows(store);
        List<String> actual = table.tableRows(url);
        total += expected.size();
        TableDiff.assertSameRows(context(phase), table.name(), expected, actual);
      }
      assertThat(total).as(context(phase) + ": rows compared").isPositive();
    }

    /** Every column of this replication's copy progress rows, by mapping. */
    List<List<Object>> copyRows() {
      return TableDiff.copyRows(url, NAME, "mapping");
    }

    void assertCheckpointAtLatest(String phase) {
      TableDiff.assertCheckpointAtLatest(url, NAME, store, context(phase));
    }
  }
}
