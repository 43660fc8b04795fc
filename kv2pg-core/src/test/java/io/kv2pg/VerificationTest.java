package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * {@link Verification}: a clean table is reported clean (also while the replication runs and the
 * store is written), and rows changed, deleted or added behind kv2pg's back are found and named.
 */
class VerificationTest {
  static final Duration WAIT = Duration.ofSeconds(60);
  static final HexFormat HEX = HexFormat.of();
  static final byte[] PREFIX = "o:".getBytes(StandardCharsets.UTF_8);

  @TempDir Path dir;

  static byte[] key(long id) {
    return ByteBuffer.allocate(PREFIX.length + 8).put(PREFIX).putLong(id).array();
  }

  static byte[] value(long id, int version) {
    // Numbers jsonb prints differently from how they are written (1e2 as 100, -0.0 as 0.0), and
    // ones a double cannot hold: a clean table must still compare equal.
    return ("{\"customer\":\"c" + (id % 7) + "\",\"qty\":" + (id + version) + ",\"price\":" + (id / 4.0)
        + ",\"amount\":" + id + ".10,\"flag\":" + (id % 2 == 0) + ",\"v\":" + version
        + ",\"weird\":[1e2,2.50,-0.0,12345678901234567890.123456789,1E-7]}").getBytes(StandardCharsets.UTF_8);
  }

  static TreeMapping orders(ColumnFamilyHandle family) {
    return TreeMapping.builder(family).prefix(PREFIX).name("orders").table("orders")
        .keyColumn("id", Decoders.int64())
        .valueColumn("customer", Decoders.jsonText("customer"))
        .valueColumn("qty", Decoders.jsonInt("qty"))
        .valueColumn("price", Decoders.jsonDouble("price"))
        .valueColumn("amount", Decoders.jsonNumeric("amount"))
        .valueColumn("flag", Decoders.jsonBoolean("flag"))
        .valueColumn("doc", Decoders.json())
        .build();
  }

  static TreeMapping items(ColumnFamilyHandle family) {
    return TreeMapping.builder(family).prefix("i:".getBytes(StandardCharsets.UTF_8)).name("items")
        .table("items").valueColumn("v", Decoders.bytes()).build();
  }

  static TreeMapping statements(ColumnFamilyHandle family) {
    return TreeMapping.builder(family)
        .createCommands("create table if not exists kv (k bytea primary key, v bytea)")
        .insert("insert into kv values ($1, $2) on conflict (k) do update set v = excluded.v",
            (key, value) -> Params.of(key, value))
        .remove("delete from kv where k = $1", key -> Params.of(key))
        .build();
  }

  /** The orders table as it must be: every store entry decoded (doc compared as jsonb). */
  static List<List<Object>> expectedOrders(TestStore store) {
    List<List<Object>> rows = new ArrayList<>();
    for (byte[][] entry : store.entries("data", PREFIX)) {
      long id = ByteBuffer.wrap(entry[0], PREFIX.length, 8).getLong();
      String json = new String(entry[1], StandardCharsets.UTF_8);
      int version = Integer.parseInt(json.replaceAll(".*\"v\":(\\d+).*", "$1"));
      rows.add(List.of(id, "c" + (id % 7), (int) (id + version), id / 4.0, id + ".10", id % 2 == 0,
          json, HEX.formatHex(entry[0])));
    }
    return rows;
  }

  /** Compares the orders table with the store; the doc column as Postgres reads the stored JSON. */
  static void assertOrdersMatchStore(String url, TestStore store) {
    List<List<Object>> expected = expectedOrders(store);
    if (!expected.isEmpty()) {
      StringBuilder docs = new StringBuilder("select v::jsonb::text from (values ");
      for (int i = 0; i < expected.size(); i++) {
        docs.append(i == 0 ? "" : ", ").append("('").append(expected.get(i).get(6)).append("', ").append(i).append(')');
      }
      List<List<Object>> canonical = TestPostgres.query(url, docs.append(") t(v, n) order by n").toString());
      for (int i = 0; i < expected.size(); i++) {
        expected.set(i, new ArrayList<>(expected.get(i)));
        expected.get(i).set(6, canonical.get(i).get(0));
      }
    }
    assertThat(TestPostgres.query(url, "select id, customer, qty, price, amount::text, flag, doc::text,"
        + " encode(kv_key, 'hex') from orders order by kv_key")).isEqualTo(expected);
  }

  @Test
  void findsRowsChangedDeletedAndAddedBehindKv2pgsBack() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data", "other")) {
      ColumnFamilyHandle data = store.family("data");
      for (long id = 0; id < 200; id++) {
        store.db.put(data, key(id), value(id, 0));
      }
      for (int i = 0; i < 5; i++) {
        store.db.put(data, ("i:" + i).getBytes(StandardCharsets.UTF_8), new byte[] {(byte) i});
        store.db.put(store.family("other"), new byte[] {(byte) i}, new byte[] {(byte) i});
      }
      Replication replication = Replication.builder().postgres(url).source(store.db).name("verify")
          .tree(orders(data)).tree(statements(store.family("other"))).tree(items(data)).build();
      try (RunningReplication running = replication.start()) {
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
      }
      assertOrdersMatchStore(url, store);

      VerificationReport clean = Verification.of(replication).run();
      assertThat(clean.isClean()).as(clean.format()).isTrue();
      assertThat(clean.storeSequence()).isEqualTo(store.db.getLatestSequenceNumber());
      assertThat(clean.appliedSequence()).hasValue(store.db.getLatestSequenceNumber());
      // The statement mapping is left out; the declared ones come in the replication's order.
      assertThat(clean.tables()).extracting(VerificationReport.TableResult::mapping)
          .containsExactly("orders", "items");
      assertThat(clean.tables().get(0))
          .isEqualTo(new VerificationReport.TableResult("orders", "orders", 200, 200, 0, 0, 0, 0, List.of()));
      assertThat(clean.tables().get(1))
          .isEqualTo(new VerificationReport.TableResult("items", "items", 5, 5, 0, 0, 0, 0, List.of()));
      assertThat(clean.format()).isEqualTo("store snapshot at sequence " + clean.storeSequence()
          + ", replication applied through " + clean.storeSequence() + "\n"
          + "OK    orders (mapping 'orders'): 200 store entries, 200 rows\n"
          + "OK    items (mapping 'items'): 5 store entries, 5 rows\n");

      // Behind kv2pg's back: three rows changed, one deleted, one added.
      TestPostgres.execute(url, "update orders set qty = 999 where id = 10;"
          + " update orders set customer = null where id = 11;"
          + " update orders set doc = doc || '{\"extra\": 1}' where id = 12;"
          + " delete from orders where id = 20;"
          + " insert into orders (id, customer, kv_key) values (5000, 'ghost', '\\x"
          + HEX.formatHex(key(5000)) + "')");
      VerificationReport dirty = Verification.of(replication).run();
      assertThat(dirty.isClean()).isFalse();
      VerificationReport.TableResult orders = dirty.tables().get(0);
      assertThat(orders.isClean()).isFalse();
      assertThat(List.of(orders.storeRows(), orders.tableRows(), orders.missing(), orders.extra(),
          orders.different(), orders.inFlight())).containsExactly(200L, 200L, 1L, 1L, 3L, 0L);
      assertThat(orders.samples()).containsExactly(
          "key " + HEX.formatHex(key(10)) + ": qty: store '10', table '999'",
          "key " + HEX.formatHex(key(11)) + ": customer: store 'c4', table NULL",
          orders.samples().get(2),
          "key " + HEX.formatHex(key(20)) + ": in the store, missing from the table",
          "key " + HEX.formatHex(key(5000)) + ": in the table, not in the store");
      assertThat(orders.samples().get(2)).startsWith("key " + HEX.formatHex(key(12)) + ": doc: store '{")
          .contains(", table '{");
      assertThat(dirty.tables().get(1).isClean()).isTrue();
      String text = dirty.format();
      assertThat(text).contains(
          "DIFF  orders (mapping 'orders'): 200 store entries, 200 rows; 1 missing, 1 extra, 3 different\n"
              + "      key " + HEX.formatHex(key(10)) + ": qty: store '10', table '999'\n",
          "      key " + HEX.formatHex(key(5000)) + ": in the table, not in the store\n",
          "OK    items (mapping 'items'): 5 store entries, 5 rows\n");

      // Fewer samples, same counts.
      VerificationReport.TableResult limited = Verification.of(replication).withMaxSamples(2).run().tables().get(0);
      assertThat(limited.samples()).containsExactlyElementsOf(orders.samples().subList(0, 2));
      assertThat(List.of(limited.missing(), limited.extra(), limited.different())).containsExactly(1L, 1L, 3L);

      // Tampering with the other table is found there too.
      TestPostgres.execute(url, "delete from items where v = '\\x03'");
      VerificationReport.TableResult items = Verification.of(replication).run().tables().get(1);
      assertThat(List.of(items.storeRows(), items.tableRows(), items.missing())).containsExactly(5L, 4L, 1L);
      assertThat(items.samples()).containsExactly("key " + HEX.formatHex("i:3".getBytes(StandardCharsets.UTF_8))
          + ": in the store, missing from the table");
    }
  }

  @Test
  void cleanWhileRunningAndBeingWritten() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      for (long id = 0; id < 1_000; id++) {
        store.db.put(data, key(id), value(id, 0));
      }
      Replication replication = Replication.builder().postgres(url).source(store.db).name("verify")
          .tree(orders(data)).build();
      try (RunningReplication running = replication.start()) {
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();

        // A writer keeps changing the store while verifications run.
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong writes = new AtomicLong();
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
          Random random = new Random(42);
          try (WriteOptions options = new WriteOptions()) {
            while (!stop.get()) {
              long id = random.nextInt(2_000);
              int op = random.nextInt(10);
              if (op < 5) {
                store.db.put(data, key(id), value(id, random.nextInt(100)));
              } else if (op < 7) {
                store.db.delete(data, key(id));
              } else if (op < 8) {
                store.db.deleteRange(data, key(id), key(id + 5));
              } else {
                try (WriteBatch batch = new WriteBatch()) {
                  for (int i = 0; i < 5; i++) {
                    long other = random.nextInt(2_000);
                    batch.put(data, key(other), value(other, random.nextInt(100)));
                  }
                  batch.delete(data, key(id));
                  store.db.write(options, batch);
                }
              }
              writes.incrementAndGet();
              LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(200));
            }
          } catch (RocksDBException e) {
            throw new IllegalStateException(e);
          }
        });
        try {
          for (int run = 0; run < 5; run++) {
            long writesBefore = writes.get();
            VerificationReport report = Verification.of(replication).run();
            assertThat(report.isClean()).as(report.format()).isTrue();
            assertThat(report.tables().get(0).storeRows()).isPositive();
            awaitWrites(writes, writesBefore + 20, writer); // the store moves on between runs
          }
        } finally {
          stop.set(true);
        }
        writer.get(60, TimeUnit.SECONDS);
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertOrdersMatchStore(url, store);

        // Hold kv2pg back with a lock so that the next writes are certainly not applied yet: they
        // are in flight, left out of the comparison, and the table is still reported clean.
        Set<Long> touched = new HashSet<>(List.of(1L, 2L, 5_000L));
        for (long id = 100; id < 110; id++) {
          touched.add(id);
        }
        Set<Long> present = ids(store);
        long tableRowsBefore = present.size();
        long appliedBefore = store.db.getLatestSequenceNumber();
        try (Connection blocker = DriverManager.getConnection(url)) {
          blocker.setAutoCommit(false);
          try (Statement statement = blocker.createStatement()) {
            statement.execute("lock table orders in share mode");
          }
          store.db.put(data, key(1), value(1, 500));
          store.db.delete(data, key(2));
          store.db.put(data, key(5_000), value(5_000, 0));
          store.db.deleteRange(data, key(100), key(110));
          present.addAll(ids(store));
          long inFlight = touched.stream().filter(present::contains).count();

          VerificationReport report = Verification.of(replication).run();
          VerificationReport.TableResult orders = report.tables().get(0);
          assertThat(report.isClean()).as(report.format()).isTrue();
          assertThat(report.appliedSequence()).hasValue(appliedBefore);
          assertThat(report.storeSequence()).isEqualTo(store.db.getLatestSequenceNumber());
          assertThat(orders.inFlight()).isEqualTo(inFlight).isPositive();
          assertThat(orders.storeRows()).isEqualTo(ids(store).size());
          assertThat(orders.tableRows()).isEqualTo(tableRowsBefore);
          assertThat(report.format()).contains("OK    orders (mapping 'orders'): " + orders.storeRows()
              + " store entries, " + tableRowsBefore + " rows; " + inFlight
              + " not compared (written after the checkpoint)\n");
          blocker.rollback();
        }
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertOrdersMatchStore(url, store);
        VerificationReport after = Verification.of(replication).run();
        assertThat(after.isClean()).as(after.format()).isTrue();
        assertThat(after.tables().get(0).inFlight()).isZero();
        assertThat(after.tables().get(0).storeRows()).isEqualTo(ids(store).size())
            .isEqualTo(after.tables().get(0).tableRows());
      }
    }
  }

  static Set<Long> ids(TestStore store) {
    Set<Long> ids = new HashSet<>();
    for (byte[][] entry : store.entries("data", PREFIX)) {
      ids.add(ByteBuffer.wrap(entry[0], PREFIX.length, 8).getLong());
    }
    return ids;
  }

  static void awaitWrites(AtomicLong writes, long atLeast, CompletableFuture<Void> writer) {
    Await.condition(WAIT, "the writer made " + atLeast + " writes", () -> {
      if (writes.get() >= atLeast) {
        return true;
      }
      if (writer.isDone()) {
        writer.join(); // rethrows the writer's failure
        throw new AssertionError("the writer stopped early");
      }
      return false;
    });
  }

  @Test
  void replicationWithoutDeclaredTablesCannotBeVerified() throws Exception {
    try (TestStore store = TestStore.open(dir, "other")) {
      Replication replication = Replication.builder().postgres(TestPostgres.adminUrl()).source(store.db)
          .name("statements").tree(statements(store.family("other"))).build();
      assertThatThrownBy(() -> Verification.of(replication))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("'statements'")
          .hasMessageContaining("no declared table");
    }
  }

  @Test
  void tableNotCreatedYetIsReported() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data")) {
      Replication replication = Replication.builder().postgres(url).source(store.db).name("never")
          .tree(orders(store.family("data"))).build();
      assertThatThrownBy(() -> Verification.of(replication).run())
          .isInstanceOf(ReplicationException.class)
          .hasMessageContaining("Table orders of mapping 'orders' does not exist");
      assertThatThrownBy(() -> Verification.of(replication).withMaxSamples(-1))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxSamples");
    }
  }
}
