package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;

/**
 * A copy into a table that already holds rows (a changed mapping, a mapping that comes back, a
 * reset) leaves the table equal to the store, and readers see only the old content or the new one,
 * with deferred foreign keys holding at every commit.
 */
class RecopyTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String NAME = "recopy";
  @TempDir Path dir;

  /** Versions rise with every write, so that a trigger can refuse an update applied twice. */
  private long version = 1;

  static byte[] id(long id) {
    return ByteBuffer.allocate(8).putLong(id).array();
  }

  /** A parent: version, then a label. */
  private byte[] parent(long id) {
    return ByteBuffer.allocate(12).putLong(version++).putInt((int) id * 7).array();
  }

  /** A child: parent id, version. */
  private byte[] child(long parentId) {
    return ByteBuffer.allocate(16).putLong(parentId).putLong(version++).array();
  }

  private static final String SCHEMA = """
      create table parents (id bigint primary key, version bigint not null, kv_key bytea not null unique);
      create table children (id bigint primary key, parent_id bigint not null, version bigint not null,
        kv_key bytea not null unique,
        constraint children_parent foreign key (parent_id) references parents (id) deferrable initially deferred);
      create function versions_increase() returns trigger language plpgsql as $$
      begin
        if new.version <= old.version then
          raise exception 'double apply: % version % after %', tg_table_name, new.version, old.version;
        end if;
        return new;
      end $$;
      create trigger parents_versions before update on parents for each row execute function versions_increase();
      create trigger children_versions before update on children for each row execute function versions_increase();
      """;

  private static TreeMapping parents(ColumnFamilyHandle family, boolean withLabel) {
    TreeMapping.Builder builder = TreeMapping.builder(family).name("parents").table("parents")
        .keyColumn("id", Decoders.int64()).valueColumn("version", Decoders.int64At(0));
    if (withLabel) {
      builder.valueColumn("label", Decoders.int32At(8));
    }
    return builder.build();
  }

  private static TreeMapping children(ColumnFamilyHandle family, boolean versionFirst) {
    // The second form reads the same bytes through another decoder: a changed declaration.
    return TreeMapping.builder(family).name("children").table("children")
        .keyColumn("id", Decoders.int64())
        .valueColumn("parent_id", versionFirst ? Decoders.custom("bigint", v -> ByteBuffer.wrap(v).getLong(0))
            : Decoders.int64At(0))
        .valueColumn("version", Decoders.int64At(8)).build();
  }

  private Replication replication(String url, TestStore store, TreeMapping... mappings) {
    Replication.Builder builder = Replication.builder().postgres(url).source(store.db).name(NAME).copyChunkRows(100);
    for (TreeMapping mapping : mappings) {
      builder.tree(mapping);
    }
    return builder.build();
  }

  private static List<List<Object>> expectedParents(TestStore store, boolean withLabel) {
    List<List<Object>> rows = new ArrayList<>();
    for (byte[][] entry : store.entries("parents", new byte[0])) {
      ByteBuffer value = ByteBuffer.wrap(entry[1]);
      List<Object> row = new ArrayList<>(List.of(ByteBuffer.wrap(entry[0]).getLong(), value.getLong(0)));
      if (withLabel) {
        row.add(value.getInt(8));
      }
      rows.add(row);
    }
    return rows;
  }

  private static List<List<Object>> expectedChildren(TestStore store) {
    List<List<Object>> rows = new ArrayList<>();
    for (byte[][] entry : store.entries("children", new byte[0])) {
      ByteBuffer value = ByteBuffer.wrap(entry[1]);
      rows.add(List.of(ByteBuffer.wrap(entry[0]).getLong(), value.getLong(0), value.getLong(8)));
    }
    return rows;
  }

  /** What a reader sees in one statement (one snapshot): row counts and children without a parent. */
  record Seen(long parents, long children, long orphans) {}

  /** Queries both tables in one statement, over and over, until stopped. */
  static final class Reader implements AutoCloseable {
    final Set<Seen> seen = ConcurrentHashMap.newKeySet();
    final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final Thread thread;

    Reader(String url) {
      thread = new Thread(() -> {
        try (Connection connection = DriverManager.getConnection(url); Statement statement = connection.createStatement()) {
          while (!stop.get()) {
            try (ResultSet rows = statement.executeQuery("select (select count(*) from parents),"
                + " (select count(*) from children),"
                + " (select count(*) from children c where not exists (select 1 from parents p where p.id = c.parent_id))")) {
              rows.next();
              seen.add(new Seen(rows.getLong(1), rows.getLong(2), rows.getLong(3)));
            }
          }
        } catch (SQLException | RuntimeException e) {
          failure.set(e);
        }
      }, "test-reader");
      thread.start();
    }

    @Override
    public void close() throws InterruptedException {
      stop.set(true);
      thread.join(WAIT.toMillis());
      assertThat(thread.isAlive()).isFalse();
      assertThat(failure.get()).isNull();
    }
  }

  @Test
  void changedMappingsReplaceTheirTablesWholeWhileReadersSeeOldOrNew() throws Exception {
    String url = TestPostgres.newDatabase();
    TestPostgres.execute(url, SCHEMA);
    try (TestStore store = TestStore.open(dir, "parents", "children")) {
      ColumnFamilyHandle parentFamily = store.family("parents");
      ColumnFamilyHandle childFamily = store.family("children");
      for (long id = 0; id < 1500; id++) {
        store.db.put(parentFamily, id(id), parent(id));
        store.db.put(childFamily, id(id), child(id));
      }
      try (RunningReplication running = replication(url, store, parents(parentFamily, false),
          children(childFamily, false)).start()) {
        Await.caughtUp(running, WAIT, "first copy");
      }
      Seen old = new Seen(1500, 1500, 0);
      // While stopped: parents and their children deleted, new ones, updates. The stream brings
      // these too, but the copy must also drop the rows whose keys left the store.
      for (long id = 0; id < 300; id++) {
        store.db.delete(childFamily, id(id));
        store.db.delete(parentFamily, id(id));
      }
      for (long id = 1500; id < 1600; id++) {
        store.db.put(parentFamily, id(id), parent(id));
        store.db.put(childFamily, id(id), child(id));
      }
      for (long id = 300; id < 400; id++) {
        store.db.put(parentFamily, id(id), parent(id));
      }
      // Rows the store does not have (a earlier run's, or written by hand): stale.
      TestPostgres.execute(url, "insert into parents values (-1, 1, '\\x01'::bytea);"
          + " insert into children values (-1, -1, 1, '\\x01'::bytea)");
      old = new Seen(1501, 1501, 0);
      Seen fresh = new Seen(1300, 1300, 0);

      try (Reader reader = new Reader(url)) {
        Await.condition(WAIT, "the reader has read", () -> reader.seen.size() >= 1);
        try (RunningReplication running = replication(url, store, parents(parentFamily, true),
            children(childFamily, true)).start()) {
          Await.caughtUp(running, WAIT, "re-copy");
          Await.condition(WAIT, "the reader saw the new tables", () -> reader.seen.contains(fresh));
          assertThat(running.status().failure()).isEmpty();
        }
        reader.close();
        assertThat(reader.seen).as("a reader sees the old tables or the new ones, never in between")
            .isSubsetOf(Set.of(old, fresh));
      }
      assertThat(TestPostgres.query(url, "select id, version, label from parents order by id"))
          .isEqualTo(expectedParents(store, true));
      assertThat(TestPostgres.query(url, "select id, parent_id, version from children order by id"))
          .isEqualTo(expectedChildren(store));

      // Streaming goes on, through the version triggers.
      try (RunningReplication running = replication(url, store, parents(parentFamily, true),
          children(childFamily, true)).start()) {
        for (long id = 400; id < 450; id++) {
          store.db.put(parentFamily, id(id), parent(id));
          store.db.put(childFamily, id(id), child(id));
        }
        Await.caughtUp(running, WAIT, "stream after the re-copy");
      }
      assertThat(TestPostgres.query(url, "select id, version, label from parents order by id"))
          .isEqualTo(expectedParents(store, true));
      assertThat(TestPostgres.query(url, "select id, parent_id, version from children order by id"))
          .isEqualTo(expectedChildren(store));
    }
  }

  private static byte[] utf8(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static TreeMapping prefixed(ColumnFamilyHandle family, String prefix) {
    return TreeMapping.builder(family).name("m").prefix(utf8(prefix)).table("t")
        .keyColumn("k", Decoders.utf8()).valueColumn("v", Decoders.utf8()).build();
  }

  @Test
  void aChangedPrefixIntoTheSameTableLeavesOnlyTheNewPrefixesRows() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      for (int i = 0; i < 50; i++) {
        store.db.put(data, utf8("a:" + i), utf8("one " + i));
        store.db.put(data, utf8("b:" + i), utf8("two " + i));
      }
      try (RunningReplication running = replication(url, store, prefixed(data, "a:")).start()) {
        Await.caughtUp(running, WAIT, "copy of a:");
      }
      store.db.delete(data, utf8("b:7"));
      try (RunningReplication running = replication(url, store, prefixed(data, "b:")).start()) {
        Await.caughtUp(running, WAIT, "copy of b:");
      }
      List<List<Object>> expected = new ArrayList<>();
      for (byte[][] entry : store.entries("data", utf8("b:"))) {
        expected.add(List.of(new String(entry[0], StandardCharsets.UTF_8).substring(2),
            new String(entry[1], StandardCharsets.UTF_8)));
      }
      assertThat(expected).hasSize(49);
      assertThat(TestPostgres.query(url, "select k, v from t order by kv_key")).isEqualTo(expected);
    }
  }

  @Test
  void aForgottenReplicationWhoseDeclaredTableHoldsRowsReplacesThem() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      for (int i = 0; i < 30; i++) {
        store.db.put(data, utf8("a:" + i), utf8("one " + i));
      }
      try (RunningReplication running = replication(url, store, prefixed(data, "a:")).start()) {
        Await.caughtUp(running, WAIT, "first copy");
      }
      TestPostgres.execute(url, "insert into t values ('stale', 'x', '\\x01'::bytea)");
      assertThat(ReplicationRecords.of(url).forget(NAME)).isTrue();
      store.db.delete(data, utf8("a:3"));
      try (RunningReplication running = replication(url, store, prefixed(data, "a:")).start()) {
        Await.caughtUp(running, WAIT, "copy after forget");
      }
      List<List<Object>> expected = new ArrayList<>();
      for (byte[][] entry : store.entries("data", utf8("a:"))) {
        expected.add(List.of(new String(entry[0], StandardCharsets.UTF_8).substring(2),
            new String(entry[1], StandardCharsets.UTF_8)));
      }
      assertThat(TestPostgres.query(url, "select k, v from t order by kv_key")).isEqualTo(expected).hasSize(29);
    }
  }

  // ------------------------------------------------------------------ statement mappings

  static final String ITEMS = "create table if not exists items (key int primary key, value int not null)";

  static TreeMapping items(ColumnFamilyHandle tree, String insertComment, String clear) {
    TreeMapping.Builder builder = TreeMapping.builder(tree).name("items")
        .createCommands(ITEMS)
        .insert("insert into items (key, value) values ($1, $2) on conflict (key) do update set value = excluded.value"
            + insertComment, (key, value) -> Params.of(ErrorHandlingTest.i32(key), ErrorHandlingTest.i32(value)))
        .remove("delete from items where key = $1", key -> Params.of(ErrorHandlingTest.i32(key)));
    if (clear != null) {
      builder.clear(clear);
    }
    return builder.build();
  }

  private static List<List<Object>> itemRows(String url) {
    return TestPostgres.query(url, "select key, value from items order by key");
  }

  private static List<List<Object>> storeItems(TestStore store) {
    return ErrorHandlingTest.rowsOf(store.entries("items", new byte[0]));
  }

  @Test
  void aChangedStatementMappingIsCopiedAgainWithItsClearStatement() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "items")) {
      ColumnFamilyHandle tree = store.family("items");
      for (int key = 0; key < 40; key++) {
        store.db.put(tree, ErrorHandlingTest.i32(key), ErrorHandlingTest.i32(key * 10));
      }
      try (RunningReplication running = replication(url, store, items(tree, "", null)).start()) {
        Await.caughtUp(running, WAIT, "first copy");
      }
      store.db.delete(tree, ErrorHandlingTest.i32(3));
      TestPostgres.execute(url, "insert into items values (1000, 1)"); // not in the store

      // Changed statements, no clear: a clear failure that says what to add.
      try (RunningReplication running = replication(url, store, items(tree, " -- v2", null)).start()) {
        ReplicationException failure = Await.failure(running, WAIT);
        assertThat(failure.kind()).isEqualTo(ReplicationException.Kind.CONFIGURATION);
        assertThat(failure.getMessage()).contains("Mapping 'items'", "TreeMapping.Builder.clear(");
      }
      assertThat(itemRows(url)).as("nothing changed").hasSize(41);

      try (RunningReplication running = replication(url, store, items(tree, " -- v2", "delete from items")).start()) {
        Await.caughtUp(running, WAIT, "re-copy with clear");
        store.db.put(tree, ErrorHandlingTest.i32(100), ErrorHandlingTest.i32(1));
        Await.caughtUp(running, WAIT, "stream after the re-copy");
      }
      assertThat(itemRows(url)).isEqualTo(storeItems(store));
    }
  }

  @Test
  void resettingOneMappingReplacesItsTableAndLeavesTheOthersStreaming() throws Exception {
    String url = TestPostgres.newDatabase();
    ReplicationRecords records = ReplicationRecords.of(url);
    try (TestStore store = TestStore.open(dir, "items", "data")) {
      ColumnFamilyHandle tree = store.family("items");
      ColumnFamilyHandle data = store.family("data");
      for (int key = 0; key < 40; key++) {
        store.db.put(tree, ErrorHandlingTest.i32(key), ErrorHandlingTest.i32(key * 10));
        store.db.put(data, utf8("a:" + key), utf8("v" + key));
      }
      Replication replication = replication(url, store, prefixed(data, "a:"), items(tree, "", "delete from items"));
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, WAIT, "first copy");
      }
      TestPostgres.execute(url, "insert into items values (1000, 1); update items set value = -1 where key = 5");
      long dataCopy = records.read(NAME).orElseThrow().copies().stream()
          .filter(copy -> copy.mapping().equals("m")).findFirst().orElseThrow().snapshotSequence();
      store.db.put(data, utf8("a:x"), utf8("streamed"));

      assertThat(records.reset(NAME, "unknown")).isFalse();
      assertThat(records.reset(NAME, "items")).isTrue();
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, WAIT, "re-copy of items");
      }
      assertThat(itemRows(url)).isEqualTo(storeItems(store));
      assertThat(records.read(NAME).orElseThrow().copies().stream().filter(copy -> copy.mapping().equals("m"))
          .findFirst().orElseThrow().snapshotSequence()).as("m streamed on, not copied").isEqualTo(dataCopy);
      assertThat(TestPostgres.query(url, "select v from t where k = 'x'")).containsExactly(List.of("streamed"));
    }
  }

  @Test
  void aStatementMappingLeftOutAndBackIsCopiedAgainWithoutStaleRows() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "items", "data")) {
      ColumnFamilyHandle tree = store.family("items");
      ColumnFamilyHandle data = store.family("data");
      for (int key = 0; key < 20; key++) {
        store.db.put(tree, ErrorHandlingTest.i32(key), ErrorHandlingTest.i32(key));
      }
      TreeMapping items = items(tree, "", "delete from items");
      try (RunningReplication running = replication(url, store, prefixed(data, "a:"), items).start()) {
        Await.caughtUp(running, WAIT, "first copy");
      }
      try (RunningReplication running = replication(url, store, prefixed(data, "a:")).start()) {
        store.db.delete(tree, ErrorHandlingTest.i32(4)); // passed by: items is not mapped
        Await.caughtUp(running, WAIT, "without items");
      }
      assertThat(itemRows(url)).hasSize(20);
      try (RunningReplication running = replication(url, store, prefixed(data, "a:"), items).start()) {
        Await.caughtUp(running, WAIT, "items back");
      }
      assertThat(itemRows(url)).isEqualTo(storeItems(store)).hasSize(19);
    }
  }

  static String hex(byte[] bytes) {
    return HexFormat.of().formatHex(bytes);
  }

  static Set<Long> ids(List<List<Object>> rows) {
    Set<Long> ids = new HashSet<>();
    rows.forEach(row -> ids.add((Long) row.get(0)));
    return ids;
  }
}
