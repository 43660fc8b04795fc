package io.kv2pg;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.kv2pg.TableDiff.Table;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * A randomized model test: three mapped trees (one whole, one split by two prefixes into two
 * tables, one mapped for a single prefix), an unmapped tree and the default tree, thousands of
 * random puts, deletes and write batches, some written before the first start, some during the
 * initial copy, some while the replication is stopped. After every phase each table must hold
 * exactly the store's entries for its mapping (every row, every column).
 *
 * <p>Every run is driven by a seed, printed and repeated in every assertion message: rerun a
 * failure with {@code -Dkv2pg.model.seed=<seed>} (the "configured seed" test).
 */
class ReplicationModelTest {
  private static final Duration CATCH_UP = Duration.ofSeconds(120);
  private static final String NAME = "model";

  private static final int ACCOUNT_IDS = 25_000;
  private static final int EVENT_IDS = 20_000;
  private static final int MISC_IDS = 1_500;

  private static final byte[] EVENTS_A = "a:".getBytes(UTF_8);
  private static final byte[] EVENTS_B = "b:".getBytes(UTF_8);
  private static final byte[] MISC_1 = {0x01};
  private static final byte[] MISC_2 = {0x02};
  private static final HexFormat HEX = HexFormat.of();

  @TempDir Path dir;

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1L, 7_206_351_942_817L})
  void fixedSeed(long seed) throws Exception {
    new Run(seed, dir).run();
  }

  @Test
  void freshSeed() throws Exception {
    String configured = System.getProperty("kv2pg.model.seed");
    long seed = configured != null ? Long.parseLong(configured) : System.nanoTime();
    System.out.println("ReplicationModelTest.freshSeed: seed " + seed
        + " (rerun with -Dkv2pg.model.seed=" + seed + ")");
    new Run(seed, dir).run();
  }

  /** Where writes go: straight to the store, or into a write batch. */
  private interface Writes {
    void put(ColumnFamilyHandle family, byte[] key, byte[] value) throws RocksDBException;

    void delete(ColumnFamilyHandle family, byte[] key) throws RocksDBException;
  }

  private static final class Run {
    private final long seed;
    private final Path dir;
    private final Random random;
    private TestStore store;
    private String url;
    private ColumnFamilyHandle accounts;
    private ColumnFamilyHandle events;
    private ColumnFamilyHandle misc;
    private ColumnFamilyHandle other;
    private ColumnFamilyHandle defaultFamily;
    private WriteOptions writeOptions;
    /** Fresh misc keys written once, which may be removed with singleDelete. */
    private final List<byte[]> onceWritten = new ArrayList<>();
    private int freshCounter;
    /** Individual puts and deletes written so far. */
    private long operations;

    Run(long seed, Path dir) {
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
        throw new AssertionError("seed " + seed + ": " + e, e);
      }
    }

    void runPhases() throws Exception {
      url = TestPostgres.newDatabase();
      try (TestStore opened = TestStore.open(dir, "accounts", "events", "misc", "other")) {
        store = opened;
        writeOptions = new WriteOptions();
        accounts = store.family("accounts");
        events = store.family("events");
        misc = store.family("misc");
        other = store.family("other");
        defaultFamily = store.family("default");
        List<Table> tables = new ArrayList<>(List.of(accountsTable(), eventsATable(), eventsBTable(),
            misc1Table()));
        List<TreeMapping> mappings = new ArrayList<>(List.of(accountsMapping(), eventsAMapping(),
            eventsBMapping(), misc1Mapping()));

        // Phase 1: the store holds data before the replication ever starts.
        seedStore();

        // Phase 2: first start; a second thread writes while the initial copy runs.
        RunningReplication running = replication(mappings).start();
        try {
          writeDuringCopy(running);
          awaitCaughtUp(running, "phase 2 (initial copy with concurrent writes)");
          assertThat(running.status().state()).as(context("phase 2")).isEqualTo(ReplicationState.STREAMING);
          assertTables("phase 2 (initial copy with concurrent writes)", tables);
          assertThat(copyRows()).as(context("phase 2: every mapping's copy completed"))
              .hasSize(4).allSatisfy(row -> assertThat(row.get(5)).isNotNull());

          // Phase 3: random single writes and batches while streaming, plus the edge cases.
          for (int round = 1; round <= 4; round++) {
            randomSteps(3_000, true);
            if (round == 2) {
              edgeCaseBatches();
            }
            awaitCaughtUp(running, "phase 3 round " + round);
            assertTables("phase 3 round " + round, tables);
          }

          // Phase 4: stop drains what was written before it, without awaitCaughtUp.
          randomSteps(500, true);
        } finally {
          running.stop();
        }
        assertThat(running.status().state()).as(context("phase 4 stop")).isEqualTo(ReplicationState.STOPPED);
        assertTables("phase 4 (after stop drained)", tables);
        assertCheckpointAtLatest("phase 4 (after stop)");
        List<List<Object>> copiesBefore = copyRows();

        // Phase 4: writes while stopped are streamed at the next start, without a new copy.
        long before = operations;
        randomSteps(1_500, true);
        long writtenWhileStopped = operations - before;
        running = replication(mappings).start();
        try {
          awaitCaughtUp(running, "phase 4 (restart)");
          assertTables("phase 4 (restart after writes while stopped)", tables);
          assertThat(copyRows()).as(context("phase 4: a restart must not copy again"))
              .isEqualTo(copiesBefore);
          assertThat(running.status().rowsApplied())
              .as(context("phase 4: rows applied by the restart (only the streamed writes)"))
              .isLessThanOrEqualTo(writtenWhileStopped);
          randomSteps(1_000, true);
          awaitCaughtUp(running, "phase 4 (streaming after restart)");
          assertTables("phase 4 (streaming after restart)", tables);
        } finally {
          running.stop();
        }
        assertTables("phase 4 (after second stop)", tables);

        // Phase 5: a new mapping is copied; the existing ones are not.
        before = operations;
        randomSteps(1_000, true);
        writtenWhileStopped = operations - before;
        copiesBefore = copyRows();
        mappings.add(misc2Mapping());
        tables.add(misc2Table());
        int misc2Entries = store.entries("misc", MISC_2).size();
        running = replication(mappings).start();
        try {
          awaitCaughtUp(running, "phase 5 (new mapping)");
          assertTables("phase 5 (new mapping copied)", tables);
          List<List<Object>> copiesAfter = copyRows();
          assertThat(copiesAfter.subList(0, 4)).as(context("phase 5: existing mappings not copied again"))
              .isEqualTo(copiesBefore);
          assertThat(copiesAfter).as(context("phase 5: copy of the new mapping")).hasSize(5);
          List<Object> added = copiesAfter.get(4);
          assertThat(added.get(0)).as(context("phase 5")).isEqualTo("misc/02");
          assertThat(added.get(3)).as(context("phase 5: rows copied")).isEqualTo((long) misc2Entries);
          assertThat(added.get(5)).as(context("phase 5: copy completed")).isNotNull();
          assertThat(running.status().rowsApplied())
              .as(context("phase 5: rows applied (the new mapping's copy plus the streamed writes)"))
              .isLessThanOrEqualTo(misc2Entries + writtenWhileStopped);
          randomSteps(1_500, true);
          awaitCaughtUp(running, "phase 5 (streaming)");
          assertTables("phase 5 (streaming with the new mapping)", tables);
        } finally {
          running.stop();
        }
        assertThat(running.status().failure()).as(context("end")).isEmpty();
        assertTables("end", tables);
        assertCheckpointAtLatest("end");
      } finally {
        if (writeOptions != null) {
          writeOptions.close();
        }
      }
    }

    // ------------------------------------------------------------------ mappings and tables

    Replication replication(List<TreeMapping> mappings) {
      Replication.Builder builder = Replication.builder().postgres(url).source(store.db).name(NAME);
      mappings.forEach(builder::tree);
      return builder.build();
    }

    TreeMapping accountsMapping() {
      // $n placeholders; the balance is passed as text and needs the cast.
      return TreeMapping.builder(accounts)
          .createCommands("create table if not exists accounts"
              + " (id bigint primary key, balance integer not null, note text not null)")
          .insert("insert into accounts (id, balance, note) values ($1, $2::int, $3)"
                  + " on conflict (id) do update set balance = excluded.balance, note = excluded.note",
              (key, value) -> Params.of(ByteBuffer.wrap(key).getLong(),
                  Integer.toString(ByteBuffer.wrap(value).getInt()),
                  new String(value, 4, value.length - 4, UTF_8)))
          .remove("delete from accounts where id = $1", key -> Params.of(ByteBuffer.wrap(key).getLong()))
          .build();
    }

    Table accountsTable() {
      return new Table("accounts", "select id, balance, note from accounts", "accounts", new byte[0],
          e -> ByteBuffer.wrap(e[0]).getLong() + "|" + ByteBuffer.wrap(e[1]).getInt() + "|"
              + new String(e[1], 4, e[1].length - 4, UTF_8));
    }

    TreeMapping eventsAMapping() {
      // JDBC ? placeholders, raw bytea key and value.
      return TreeMapping.builder(events).prefix(EVENTS_A)
          .createCommands("create table if not exists events_a (k bytea primary key, v bytea not null)")
          .insert("insert into events_a (k, v) values (?, ?) on conflict (k) do update set v = excluded.v",
              (key, value) -> Params.of(key, value))
          .remove("delete from events_a where k = ?", key -> Params.of(key))
          .build();
    }

    Table eventsATable() {
      return new Table("events_a", "select k, v from events_a", "events", EVENTS_A,
          e -> HEX.formatHex(e[0]) + "|" + HEX.formatHex(e[1]));
    }

    TreeMapping eventsBMapping() {
      // The key without its prefix as text; the value and its length.
      return TreeMapping.builder(events).prefix(EVENTS_B)
          .createCommands("create table if not exists events_b"
              + " (k text primary key, v bytea not null, len integer not null)")
          .insert("insert into events_b (k, v, len) values ($1, $2, $3)"
                  + " on conflict (k) do update set v = excluded.v, len = excluded.len",
              (key, value) -> Params.of(new String(key, 2, key.length - 2, UTF_8), value, value.length))
          .remove("delete from events_b where k = $1",
              key -> Params.of(new String(key, 2, key.length - 2, UTF_8)))
          .build();
    }

    Table eventsBTable() {
      return new Table("events_b", "select k, v, len from events_b", "events", EVENTS_B,
          e -> new String(e[0], 2, e[0].length - 2, UTF_8) + "|" + HEX.formatHex(e[1]) + "|" + e[1].length);
    }

    TreeMapping misc1Mapping() {
      return TreeMapping.builder(misc).prefix(MISC_1)
          .createCommands("create table if not exists misc_01 (k bytea primary key, v bytea not null)")
          .insert("insert into misc_01 (k, v) values (?, ?) on conflict (k) do update set v = excluded.v",
              (key, value) -> Params.of(key, value))
          .remove("delete from misc_01 where k = ?", key -> Params.of(key))
          .build();
    }

    Table misc1Table() {
      return new Table("misc_01", "select k, v from misc_01", "misc", MISC_1,
          e -> HEX.formatHex(e[0]) + "|" + HEX.formatHex(e[1]));
    }

    TreeMapping misc2Mapping() {
      // $1 used twice.
      return TreeMapping.builder(misc).prefix(MISC_2)
          .createCommands("create table if not exists misc_02"
              + " (k bytea primary key, v bytea not null, klen integer not null)")
          .insert("insert into misc_02 (k, v, klen) values ($1, $2, length($1))"
                  + " on conflict (k) do update set v = excluded.v, klen = excluded.klen",
              (key, value) -> Params.of(key, value))
          .remove("delete from misc_02 where k = $1", key -> Params.of(key))
          .build();
    }

    Table misc2Table() {
      return new Table("misc_02", "select k, v, klen from misc_02", "misc", MISC_2,
          e -> HEX.formatHex(e[0]) + "|" + HEX.formatHex(e[1]) + "|" + e[0].length);
    }

    // ------------------------------------------------------------------ phases

    void seedStore() throws RocksDBException {
      for (int b = 0; b < 60; b++) {
        try (WriteBatch batch = new WriteBatch()) {
          Writes writes = batchWrites(batch);
          for (int i = 0; i < 1_000; i++) {
            randomOperation(random, writes, 0.9);
          }
          store.db.write(writeOptions, batch);
        }
      }
      randomSteps(500, false);
    }

    /** Writes from a second thread from start() until some time after the copy finished. */
    void writeDuringCopy(RunningReplication running) throws Exception {
      Random writer = new Random(seed * 31 + 17);
      long[] counts = new long[3]; // during the copy, after it, total steps
      AtomicBoolean halt = new AtomicBoolean();
      FutureTask<Void> task = new FutureTask<>(() -> {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
        while (!halt.get() && System.nanoTime() < deadline && counts[2] < 20_000) {
          ReplicationState before = running.status().state();
          if (before == ReplicationState.FAILED || before == ReplicationState.STOPPED
              || (before == ReplicationState.STREAMING && counts[1] >= 300)) {
            break;
          }
          randomStep(writer, true);
          ReplicationState after = running.status().state();
          if (before == ReplicationState.COPYING && after == ReplicationState.COPYING) {
            counts[0]++;
          } else if (before == ReplicationState.STREAMING) {
            counts[1]++;
          }
          counts[2]++;
          LockSupport.parkNanos(100_000); // pacing, so that the writes spread over the whole copy
        }
        return null;
      });
      Thread thread = new Thread(task, "model-writer-" + seed);
      thread.start();
      try {
        task.get(240, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        throw new AssertionError(context("phase 2: the concurrent writer failed"), e.getCause());
      } finally {
        halt.set(true); // never let it write into a closed store
        thread.join();
      }
      assertThat(running.status().failure()).as(context("phase 2")).isEmpty();
      System.out.printf("ReplicationModelTest seed %d: %d write steps during the copy, %d after, %d in all%n",
          seed, counts[0], counts[1], counts[2]);
      assertThat(counts[0]).as(context("phase 2: write steps made while the state was COPYING")).isPositive();
      assertThat(counts[1]).as(context("phase 2: write steps made while streaming")).isPositive();
    }

    /** Batches that touch one key twice, put then delete, delete then put, and an empty batch. */
    void edgeCaseBatches() throws RocksDBException {
      try (WriteBatch batch = new WriteBatch()) {
        Writes writes = batchWrites(batch);
        byte[] account = accountKey(random);
        writes.put(accounts, account, accountValue(random));
        writes.put(accounts, account, accountValue(random)); // the second value must win
        byte[] eventA = eventAKey(random);
        writes.put(events, eventA, bytes(random, 8));
        writes.put(events, eventA, bytes(random, 0)); // the empty value must win
        byte[] eventB = eventBKey(random);
        writes.put(events, eventB, bytes(random, 3));
        writes.delete(events, eventB);
        writes.put(events, eventB, bytes(random, 5));
        store.db.write(writeOptions, batch);
      }
      try (WriteBatch batch = new WriteBatch()) {
        Writes writes = batchWrites(batch);
        byte[] fresh = ByteBuffer.allocate(8).putLong(ACCOUNT_IDS + 1_000L + freshCounter++).array();
        writes.put(accounts, fresh, accountValue(random)); // put then delete: never in Postgres
        writes.delete(accounts, fresh);
        byte[] existing = store.entries("misc", MISC_1).get(0)[0];
        writes.put(misc, existing, bytes(random, 4)); // put then delete of an existing row
        writes.delete(misc, existing);
        byte[] eventA = eventAKey(random);
        writes.delete(events, eventA); // delete then put
        writes.put(events, eventA, bytes(random, 6));
        writes.put(other, bytes(random, 3), bytes(random, 3));
        writes.put(defaultFamily, bytes(random, 3), bytes(random, 3));
        writes.put(misc, new byte[] {0x03}, bytes(random, 2));
        writes.put(misc, MISC_1.clone(), bytes(random, 2)); // the key that equals the prefix
        writes.put(events, EVENTS_B.clone(), bytes(random, 2)); // ditto: text key ""
        store.db.write(writeOptions, batch);
      }
      try (WriteBatch empty = new WriteBatch()) {
        store.db.write(writeOptions, empty);
      }
      try (WriteBatch batch = new WriteBatch()) { // one large batch
        Writes writes = batchWrites(batch);
        for (int i = 0; i < 3_000; i++) {
          randomOperation(random, writes, 0.6);
        }
        store.db.write(writeOptions, batch);
      }
    }

    // ------------------------------------------------------------------ random writes

    void randomSteps(int steps, boolean withSingleDeletes) throws RocksDBException {
      for (int i = 0; i < steps; i++) {
        randomStep(random, withSingleDeletes);
      }
    }

    /** One single write (70 %) or one write batch of 2 to 40 operations. */
    void randomStep(Random r, boolean withSingleDeletes) throws RocksDBException {
      int kind = r.nextInt(100);
      if (kind < 70) {
        if (withSingleDeletes && kind < 2 && r == random) {
          singleDeleteStep(r);
        } else {
          randomOperation(r, directWrites(), 0.65);
        }
        return;
      }
      try (WriteBatch batch = new WriteBatch()) {
        Writes writes = batchWrites(batch);
        int size = 2 + r.nextInt(39);
        for (int i = 0; i < size; i++) {
          randomOperation(r, writes, 0.65);
        }
        store.db.write(writeOptions, batch);
      }
    }

    /** Puts a key never written before, or removes one such key with singleDelete. */
    void singleDeleteStep(Random r) throws RocksDBException {
      if (onceWritten.isEmpty() || r.nextBoolean()) {
        byte[] key = ByteBuffer.allocate(4).put((byte) 0x01).put((byte) 0x7f)
            .putShort((short) freshCounter++).array();
        store.db.put(misc, key, bytes(r, 6));
        onceWritten.add(key);
      } else {
        store.db.singleDelete(misc, onceWritten.remove(r.nextInt(onceWritten.size())));
      }
      synchronized (this) {
        operations++;
      }
    }

    /** One put (with the given probability) or delete, to a random tree and key. */
    void randomOperation(Random r, Writes writes, double putShare) throws RocksDBException {
      boolean put = r.nextDouble() < putShare;
      int tree = r.nextInt(100);
      ColumnFamilyHandle family;
      byte[] key;
      byte[] value;
      if (tree < 30) {
        family = accounts;
        key = accountKey(r);
        value = accountValue(r);
      } else if (tree < 65) {
        family = events;
        int which = r.nextInt(10);
        key = which < 4 ? eventAKey(r) : which < 8 ? eventBKey(r) : eventNoiseKey(r);
        value = bytes(r, r.nextInt(33));
      } else if (tree < 88) {
        family = misc;
        key = miscKey(r);
        value = bytes(r, r.nextInt(17));
      } else if (tree < 96) {
        family = other;
        key = bytes(r, 1 + r.nextInt(8));
        value = bytes(r, r.nextInt(9));
      } else {
        family = defaultFamily;
        key = bytes(r, 1 + r.nextInt(8));
        value = bytes(r, r.nextInt(9));
      }
      if (put) {
        writes.put(family, key, value);
      } else {
        writes.delete(family, key);
      }
      synchronized (this) {
        operations++;
      }
    }

    Writes directWrites() {
      return new Writes() {
        @Override
        public void put(ColumnFamilyHandle family, byte[] key, byte[] value) throws RocksDBException {
          store.db.put(family, writeOptions, key, value);
        }

        @Override
        public void delete(ColumnFamilyHandle family, byte[] key) throws RocksDBException {
          store.db.delete(family, writeOptions, key);
        }
      };
    }

    static Writes batchWrites(WriteBatch batch) {
      return new Writes() {
        @Override
        public void put(ColumnFamilyHandle family, byte[] key, byte[] value) throws RocksDBException {
          batch.put(family, key, value);
        }

        @Override
        public void delete(ColumnFamilyHandle family, byte[] key) throws RocksDBException {
          batch.delete(family, key);
        }
      };
    }

    static byte[] accountKey(Random r) {
      return ByteBuffer.allocate(8).putLong(r.nextInt(ACCOUNT_IDS)).array();
    }

    private static final int[] NOTE_CHARS = "abcxyz XYZ019'\"\\%_,;|\u00e9\u00df\u20ac\u4e2d\ud83d\ude00"
        .codePoints().toArray();

    static byte[] accountValue(Random r) {
      StringBuilder note = new StringBuilder();
      int length = r.nextInt(21);
      for (int i = 0; i < length; i++) {
        note.appendCodePoint(NOTE_CHARS[r.nextInt(NOTE_CHARS.length)]);
      }
      byte[] text = note.toString().getBytes(UTF_8);
      return ByteBuffer.allocate(4 + text.length).putInt(r.nextInt()).put(text).array();
    }

    static byte[] eventAKey(Random r) {
      ByteBuffer key = ByteBuffer.allocate(7).put(EVENTS_A).putInt(r.nextInt(EVENT_IDS));
      if (r.nextInt(10) == 0) {
        key.put((byte) r.nextInt(256)); // a longer key sharing the id
        return key.array();
      }
      return Arrays.copyOf(key.array(), 6);
    }

    static byte[] eventBKey(Random r) {
      String id = (r.nextInt(8) == 0 ? "\u00e9v-" : "ev-") + r.nextInt(EVENT_IDS);
      return ("b:" + id).getBytes(UTF_8);
    }

    /** Keys of the events tree that neither mapping reads. */
    static byte[] eventNoiseKey(Random r) {
      String[] prefixes = {"", "a", "b", "ab", "c:", "A:", "a;", "b9", "\u0000a:"};
      byte[] prefix = prefixes[r.nextInt(prefixes.length)].getBytes(UTF_8);
      byte[] id = ByteBuffer.allocate(2).putShort((short) r.nextInt(EVENT_IDS)).array();
      if (prefix.length == 0 && id[0] == 'a') {
        id[0] = 0; // keep "" + id out of the mapped prefixes
      }
      byte[] key = Arrays.copyOf(prefix, prefix.length + id.length);
      System.arraycopy(id, 0, key, prefix.length, id.length);
      if (key.length >= 2 && (key[0] == 'a' || key[0] == 'b') && key[1] == ':') {
        key[1] = '.';
      }
      return key;
    }

    /** Keys of the misc tree: first byte 0x00 to 0x03 or 0xff, then an id (or nothing). */
    static byte[] miscKey(Random r) {
      int first = r.nextInt(20) == 0 ? 0xff : r.nextInt(4);
      if (r.nextInt(50) == 0) {
        return new byte[] {(byte) first};
      }
      return ByteBuffer.allocate(3).put((byte) first).putShort((short) r.nextInt(MISC_IDS)).array();
    }

    static byte[] bytes(Random r, int length) {
      byte[] bytes = new byte[length];
      r.nextBytes(bytes);
      return bytes;
    }

    // ------------------------------------------------------------------ checks

    String context(String phase) {
      return "seed " + seed + ", " + phase;
    }

    void awaitCaughtUp(RunningReplication running, String phase) throws InterruptedException {
      Await.caughtUp(running, CATCH_UP, context(phase));
    }

    void assertTables(String phase, List<Table> tables) {
      for (Table table : tables) {
        List<String> expected = table.storeRows(store);
        List<String> actual = table.tableRows(url);
        assertThat(expected).as(context(phase) + ": store entries for " + table.name()).isNotEmpty();
        TableDiff.assertSameRows(context(phase), table.name(), expected, actual);
      }
    }

    /** Every column of this replication's copy progress rows, oldest completed copy first. */
    List<List<Object>> copyRows() {
      return TableDiff.copyRows(url, NAME, "completed_at, mapping");
    }

    void assertCheckpointAtLatest(String phase) {
      TableDiff.assertCheckpointAtLatest(url, NAME, store, context(phase));
    }
  }
}
