package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * Versioned rows for fault tests: every value is an 8-byte version and a text payload ({@link
 * CrashChild#value}), versions grow strictly over a store's whole history, and a trigger on each
 * table refuses (raises an exception) any row whose version is not above every version its key ever
 * had in that table, and counts the refusal in a sequence (not rolled back, so even a refusal that
 * kv2pg then recovered from is seen). A batch applied twice, a chunk copied twice or a stale write
 * after a reconnect all fail.
 *
 * <p>Each table has the columns key (text, the whole key), version and payload, under names the test
 * chooses; mapped either by statements or as a declared table.
 */
final class VersionedWorkload {
  private VersionedWorkload() {}

  /** Creates the trigger function, its bookkeeping table and the refusal counter; once per database. */
  static void installTriggerFunction(String url) {
    TestPostgres.execute(url, """
        create table kv2pg_test_version_seen (tbl text not null, key text not null, version bigint not null,
          primary key (tbl, key));
        create sequence kv2pg_test_refused_writes;
        create function kv2pg_test_refuse_old_version() returns trigger language plpgsql as $$
        declare
          v_key text := to_jsonb(new) ->> tg_argv[0];
          v_version bigint := (to_jsonb(new) ->> tg_argv[1])::bigint;
          v_table text := tg_table_schema || '.' || tg_table_name;
          v_seen bigint;
        begin
          select s.version into v_seen from kv2pg_test_version_seen s where s.tbl = v_table and s.key = v_key;
          if found and v_version <= v_seen then
            perform nextval('kv2pg_test_refused_writes'); -- not rolled back
            raise exception 'table %, key %: version % written after version %: applied twice',
              v_table, v_key, v_version, v_seen;
          end if;
          insert into kv2pg_test_version_seen as s values (v_table, v_key, v_version)
            on conflict (tbl, key) do update set version = excluded.version;
          return null;
        end $$;
        """);
  }

  /**
   * Puts the version trigger on a table ({@code qualifiedTable} already quoted as SQL needs it);
   * {@code keyColumn} and {@code versionColumn} are the columns' names as they are, unquoted.
   */
  static void protect(String url, String qualifiedTable, String keyColumn, String versionColumn) {
    // "after", because an upsert that updates fires the "before insert" triggers too
    TestPostgres.execute(url, "create trigger kv2pg_test_version after insert or update on " + qualifiedTable
        + " for each row execute function kv2pg_test_refuse_old_version(" + literal(keyColumn) + ", "
        + literal(versionColumn) + ")");
  }

  /** Creates a table (key text, version bigint, payload text) for a statement mapping, with its trigger. */
  static void createStatementTable(String url, String table) {
    TestPostgres.execute(url, "create table " + table
        + " (key text primary key, version bigint not null, payload text not null)");
    protect(url, table, "key", "version");
  }

  /**
   * Creates the table that {@link #declaredMapping} declares, exactly as kv2pg would, with its
   * trigger, so that the trigger also sees the initial copy.
   */
  static void createDeclaredTable(String url, String table) {
    TestPostgres.execute(url, "create table " + table + " (key text not null, version bigint, payload text,"
        + " kv_key bytea not null unique, primary key (key))");
    protect(url, table, "key", "version");
  }

  /** A statement mapping of a family into a table made by {@link #createStatementTable}. */
  static TreeMapping statementMapping(ColumnFamilyHandle family, String table) {
    return TreeMapping.builder(family)
        .insert("insert into " + table + " (key, version, payload) values ($1, $2, $3)"
                + " on conflict (key) do update set version = excluded.version, payload = excluded.payload",
            (key, value) -> Params.of(CrashChild.text(key), CrashChild.version(value), CrashChild.payload(value)))
        .remove("delete from " + table + " where key = $1", key -> Params.of(CrashChild.text(key)))
        .build();
  }

  /** A declared-table mapping of a family into table {@code table} (unquoted, maybe schema.table). */
  static TreeMapping declaredMapping(ColumnFamilyHandle family, String table) {
    return TreeMapping.builder(family).table(table)
        .keyColumn("key", Decoders.utf8())
        .valueColumn("version", Decoders.int64At(0))
        .valueColumn("payload", Decoders.utf8From(8))
        .build();
  }

  /** Fails if the trigger ever refused a write. */
  static void assertNoWriteRefused(String url, String context) {
    assertThat(TestPostgres.query(url, "select is_called from kv2pg_test_refused_writes"))
        .as("the version trigger refused a write: something was applied twice (%s); last refusals are in the"
            + " Postgres log", context)
        .containsExactly(List.of(false));
  }

  /** Asserts that a table's rows (key, version, payload by {@code select}) equal the family's entries. */
  static void assertTableEqualsStore(String url, TestStore store, String family, String select, String context) {
    List<String> expected = TableDiff.storeRows(store, family, new byte[0], entry ->
        CrashChild.text(entry[0]) + "|" + CrashChild.version(entry[1]) + "|" + CrashChild.payload(entry[1]));
    TableDiff.assertSameRows(context, family, expected, TableDiff.tableRows(url, select));
  }

  private static String literal(String text) {
    return "'" + text.replace("'", "''") + "'";
  }

  /**
   * Random writes to several families, each a put, a delete or a write batch of several of them,
   * every put with the next version of one counter (so versions grow strictly per key), from one
   * background thread, paced to roughly {@code opsPerSecond}.
   */
  static final class Writer implements AutoCloseable {
    private final TestStore store;
    private final List<ColumnFamilyHandle> families;
    private final int keys;
    private final Random random;
    private final AtomicLong version;
    private final long pauseNanos;
    private final AtomicBoolean running = new AtomicBoolean(true);
    final AtomicLong puts = new AtomicLong();
    final AtomicLong deletes = new AtomicLong();
    final AtomicLong batches = new AtomicLong();
    private final Thread thread;
    private volatile Throwable failure;

    Writer(TestStore store, List<String> families, int keys, long seed, AtomicLong version, int opsPerSecond) {
      this.store = store;
      this.families = new ArrayList<>();
      for (String family : families) {
        this.families.add(store.family(family));
      }
      this.keys = keys;
      this.random = new Random(seed);
      this.version = version;
      this.pauseNanos = TimeUnit.SECONDS.toNanos(1) / opsPerSecond;
      this.thread = new Thread(this::run, "versioned-writer");
      thread.setDaemon(true);
      thread.start();
    }

    private void run() {
      try (WriteOptions options = new WriteOptions()) {
        while (running.get()) {
          writeOne(options);
          LockSupport.parkNanos(pauseNanos);
        }
      } catch (RocksDBException | RuntimeException e) {
        failure = e;
      }
    }

    private void writeOne(WriteOptions options) throws RocksDBException {
      int kind = random.nextInt(100);
      if (kind < 15) {
        try (WriteBatch batch = new WriteBatch()) {
          int count = 2 + random.nextInt(7);
          for (int i = 0; i < count; i++) {
            add(batch);
          }
          store.db.write(options, batch);
        }
        batches.incrementAndGet();
      } else {
        try (WriteBatch batch = new WriteBatch()) {
          add(batch);
          store.db.write(options, batch);
        }
      }
    }

    private void add(WriteBatch batch) throws RocksDBException {
      ColumnFamilyHandle family = families.get(random.nextInt(families.size()));
      byte[] key = String.format("k%05d", random.nextInt(keys)).getBytes(StandardCharsets.UTF_8);
      if (random.nextInt(100) < 15) {
        batch.delete(family, key);
        deletes.incrementAndGet();
      } else {
        long v = version.incrementAndGet();
        batch.put(family, key, CrashChild.value(v, "p" + v + "-" + Long.toHexString(random.nextLong())));
        puts.incrementAndGet();
      }
    }

    /** Stops writing and waits for the thread (at most 60 s), without throwing. */
    void closeQuietly() {
      running.set(false);
      try {
        thread.join(TimeUnit.SECONDS.toMillis(60));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    /** Stops writing and waits for the thread; rethrows what it failed with. */
    @Override
    public void close() {
      running.set(false);
      try {
        thread.join(TimeUnit.SECONDS.toMillis(60));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (thread.isAlive()) {
        throw new IllegalStateException("the writer did not stop within 60 s");
      }
      if (failure != null) {
        throw new IllegalStateException("the writer failed", failure);
      }
    }
  }
}
