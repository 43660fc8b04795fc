package io.kv2pg;

import static io.kv2pg.VerificationTest.HEX;
import static io.kv2pg.VerificationTest.WAIT;
import static io.kv2pg.VerificationTest.assertOrdersMatchStore;
import static io.kv2pg.VerificationTest.items;
import static io.kv2pg.VerificationTest.key;
import static io.kv2pg.VerificationTest.orders;
import static io.kv2pg.VerificationTest.statements;
import static io.kv2pg.VerificationTest.value;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;

/**
 * {@link Verification#repair()}: tables damaged by hand end equal to the store, only the damaged
 * rows are written (every other row keeps its {@code xmin}), the counts are exact, and a repair
 * that races a running replication neither overwrites a row it wrote since the comparison nor
 * brings back a row it deleted.
 */
class RepairTest {
  @TempDir Path dir;

  /** Every row's version, by raw key in hex. */
  static Map<String, String> xmins(String url, String table) {
    Map<String, String> xmins = new HashMap<>();
    for (List<Object> row : TestPostgres.query(url, "select encode(kv_key, 'hex'), xmin::text from " + table)) {
      xmins.put((String) row.get(0), (String) row.get(1));
    }
    return xmins;
  }

  /** Asserts that every row but the {@code damaged} ones has the version it had. */
  static void assertUntouchedExcept(Map<String, String> before, Map<String, String> after, Set<String> damaged) {
    Map<String, String> expected = new HashMap<>(before);
    Map<String, String> actual = new HashMap<>(after);
    expected.keySet().removeAll(damaged);
    actual.keySet().removeAll(damaged);
    assertThat(actual).isEqualTo(expected);
    for (String key : damaged) {
      if (after.containsKey(key)) {
        assertThat(after.get(key)).as("version of repaired row %s", key).isNotEqualTo(before.get(key));
      }
    }
  }

  static String hex(long id) {
    return HEX.formatHex(key(id));
  }

  @Test
  void repairsExactlyTheRowsDamagedByHand() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data", "other")) {
      ColumnFamilyHandle data = store.family("data");
      for (long id = 0; id < 3_000; id++) {
        store.db.put(data, key(id), value(id, 0));
      }
      for (int i = 0; i < 5; i++) {
        store.db.put(data, ("i:" + i).getBytes(StandardCharsets.UTF_8), new byte[] {(byte) i});
      }
      Replication replication = Replication.builder().postgres(url).source(store.db).name("repair")
          .tree(orders(data)).tree(statements(store.family("other"))).tree(items(data)).build();
      try (RunningReplication running = replication.start()) {
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
      }

      // A clean table: nothing is written.
      Map<String, String> clean = xmins(url, "orders");
      RepairReport nothing = Verification.of(replication).repair();
      assertThat(nothing.isClean()).as(nothing.format()).isTrue();
      assertThat(nothing.repaired()).isZero();
      assertThat(xmins(url, "orders")).isEqualTo(clean);

      // Behind kv2pg's back: 1,200 rows changed (more than a chunk), two deleted, one added; one
      // row of the other table deleted.
      TestPostgres.execute(url, "update orders set qty = -1 where id between 100 and 1299;"
          + " update orders set customer = null where id = 2000;"
          + " update orders set doc = doc || '{\"extra\": 1}' where id = 2001;"
          + " delete from orders where id in (20, 2500);"
          + " insert into orders (id, customer, kv_key) values (5000, 'ghost', '\\x" + hex(5000) + "');"
          + " delete from items where v = '\\x03'");
      Map<String, String> damagedVersions = xmins(url, "orders");
      Map<String, String> itemsBefore = xmins(url, "items");
      Set<String> damaged = new java.util.HashSet<>(Set.of(hex(2000), hex(2001), hex(20), hex(2500), hex(5000)));
      for (long id = 100; id < 1_300; id++) {
        damaged.add(hex(id));
      }

      RepairReport report = Verification.of(replication).repair();
      assertThat(report.before().tables().get(0).different()).isEqualTo(1_202);
      assertThat(report.tables()).containsExactly(
          new RepairReport.TableRepair("orders", "orders", 2, 1_202, 1, 0, 0),
          new RepairReport.TableRepair("items", "items", 1, 0, 0, 0, 0));
      assertThat(report.repaired()).isEqualTo(1_206);
      assertThat(report.statementMappings()).hasSize(1);
      assertThat(report.isClean()).as(report.format()).isTrue();
      assertThat(report.after().tables()).allSatisfy(table -> assertThat(table.inFlight()).isZero());
      assertThat(report.format())
          .contains("DIFF  orders (mapping 'orders'): 3000 store entries, 2999 rows; 2 missing, 1 extra, 1202 different\n")
          .contains("REPAIRED orders (mapping 'orders'): 2 inserted, 1202 updated, 1 deleted\n")
          .contains("REPAIRED items (mapping 'items'): 1 inserted, 0 updated, 0 deleted\n")
          .contains("statement mappings are not verified or repaired (kv2pg does not know their tables)")
          .contains("after the repair: store snapshot at sequence ")
          .contains("OK    orders (mapping 'orders'): 3000 store entries, 3000 rows\n");
      assertOrdersMatchStore(url, store);
      assertUntouchedExcept(damagedVersions, xmins(url, "orders"), damaged);
      assertUntouchedExcept(itemsBefore, xmins(url, "items"),
          Set.of(HEX.formatHex("i:3".getBytes(StandardCharsets.UTF_8))));
      assertThat(Verification.of(replication).run().isClean()).isTrue();

      // The replication goes on from its checkpoint as if nothing happened.
      store.db.put(data, key(100), value(100, 7));
      try (RunningReplication running = replication.start()) {
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
      }
      assertOrdersMatchStore(url, store);
    }
  }

  /**
   * The replication writes keys after the comparison's snapshots, while it compares (a session
   * that holds the table in ACCESS EXCLUSIVE mode keeps the comparison's scan and the
   * replication's writes waiting, then lets both go at once; the replication's small transaction
   * commits long before the comparison of 20,000 rows ends): the repair leaves those keys alone,
   * so a row the replication just updated or inserted is not overwritten from the older snapshot,
   * and a row it just deleted does not come back.
   */
  @Test
  void aRepairRacingTheReplicationLeavesTheKeysItWroteAlone() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      for (long id = 0; id < 20_000; id++) {
        store.db.put(data, key(id), value(id, 0));
      }
      Replication replication = Replication.builder().postgres(url).source(store.db).name("race")
          .tree(orders(data)).build();
      try (RunningReplication running = replication.start()) {
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        // Damage: 1 and 2 changed, 3 and 4 deleted, 50000 added; 19998 changed and 19999 deleted
        // too, keys the store leaves alone: those two are repaired.
        TestPostgres.execute(url, "update orders set qty = 999 where id in (1, 2, 19998);"
            + " delete from orders where id in (3, 4, 19999);"
            + " insert into orders (id, customer, kv_key) values (50000, 'ghost', '\\x" + hex(50_000) + "')");
        Map<String, String> versions = xmins(url, "orders");
        try (Connection blocker = DriverManager.getConnection(url)) {
          blocker.setAutoCommit(false);
          try (Statement statement = blocker.createStatement()) {
            statement.execute("lock table orders in access exclusive mode");
          }
          CompletableFuture<RepairReport> repair = CompletableFuture.supplyAsync(
              () -> Verification.of(replication).repair());
          Await.condition(WAIT, "the repair's comparison waits for the table", () -> waiters(url) == 1
              || repair.isDone());
          assertThat(repair).isNotDone();

          // After the comparison's snapshots: the store writes damaged keys.
          store.db.put(data, key(1), value(1, 600)); // its row: changed by hand, now updated
          store.db.delete(data, key(2)); // changed by hand, now deleted
          store.db.delete(data, key(3)); // deleted by hand, now deleted in the store
          store.db.put(data, key(4), value(4, 600)); // deleted by hand, now written again
          store.db.put(data, key(50_000), value(50_000, 600)); // added by hand, now in the store
          Await.condition(WAIT, "the replication waits for the table too", () -> waiters(url) == 2
              || repair.isDone());
          blocker.rollback();

          RepairReport report = repair.get(60, TimeUnit.SECONDS);
          assertThat(report.before().tables().get(0))
              .extracting(t -> List.of(t.missing(), t.extra(), t.different(), t.inFlight()))
              .isEqualTo(List.of(3L, 1L, 3L, 0L));
          // 19998 updated, 19999 inserted; the five keys the store wrote since are left alone.
          assertThat(report.tables()).containsExactly(
              new RepairReport.TableRepair("orders", "orders", 1, 1, 0, 5, 0));
          assertThat(report.isClean()).as(report.format()).isTrue();
          assertThat(report.formatRepairs()).contains("5 left alone (written after the checkpoint");
        }
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertOrdersMatchStore(url, store);
        Map<String, String> after = xmins(url, "orders");
        assertUntouchedExcept(versions, after, Set.of(hex(1), hex(2), hex(3), hex(4), hex(50_000),
            hex(19_998), hex(19_999)));
      }
    }
  }

  /** Sessions waiting for a lock on table orders. */
  static long waiters(String url) {
    return ((Number) TestPostgres.query(url, "select count(*) from pg_locks where not granted"
        + " and relation = 'orders'::regclass").get(0).get(0)).longValue();
  }

  @Test
  void statementMappingsAndReplicationsThatNeverRanAreRefusedClearly() throws Exception {
    try (TestStore store = TestStore.open(dir, "data", "other")) {
      Replication statementsOnly = Replication.builder().postgres(TestPostgres.adminUrl()).source(store.db)
          .name("statements").tree(statements(store.family("other"))).build();
      assertThatThrownBy(() -> Verification.of(statementsOnly).repair())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("'statements'")
          .hasMessageContaining("statement mappings cannot be verified or repaired: kv2pg does not know their tables");

      String url = TestPostgres.newDatabase();
      Replication never = Replication.builder().postgres(url).source(store.db).name("never")
          .tree(orders(store.family("data"))).build();
      assertThatThrownBy(() -> Verification.of(never).repair())
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("Cannot repair the tables of replication 'never': it has no checkpoint yet")
          .hasMessageContaining("Nothing was repaired");
    }
  }
}
