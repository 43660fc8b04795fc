package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.postgresql.ds.PGSimpleDataSource;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDBException;

/**
 * The builders check every argument at once and name the property in the exception; build()
 * names what is missing. Nothing here needs PostgreSQL: the builders do not connect.
 */
class BuilderValidationTest {
  private static final String URL = "jdbc:postgresql://localhost:5432/app?user=app";
  private static final InsertParameters INSERT = (key, value) -> Params.of(key, value);
  private static final RemoveParameters REMOVE = key -> Params.of(key);
  private static final String INSERT_SQL = "insert into t (k, v) values ($1, $2) on conflict (k) do update set v = excluded.v";
  private static final String REMOVE_SQL = "delete from t where k = $1";

  @TempDir Path dir;
  private TestStore store;
  private ColumnFamilyHandle tree;

  @BeforeEach
  void openStore() throws RocksDBException {
    store = TestStore.open(dir.resolve("store"), "cf1", "cf2");
    tree = store.family("cf1");
  }

  @AfterEach
  void closeStore() {
    store.close();
  }

  private TreeMapping mapping(ColumnFamilyHandle family) {
    return TreeMapping.builder(family).insert(INSERT_SQL, INSERT).remove(REMOVE_SQL, REMOVE).build();
  }

  // ------------------------------------------------------------------ Replication.Builder

  @Test
  void aTableNameWithMoreThanOneDotPointsToTheTwoPartForm() {
    assertThatThrownBy(() -> TreeMapping.builder(tree).table("a.b.c"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("table must be 'table' or 'schema.table' but was 'a.b.c'; for a name that holds a dot,"
            + " use table(schema, table)");
    assertThatThrownBy(() -> TreeMapping.builder(tree).table("shop", " "))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must not be blank");
    assertThatThrownBy(() -> TreeMapping.builder(tree).table(null, "t"))
        .isInstanceOf(NullPointerException.class).hasMessage("table schema must not be null");
  }

  @Test
  void aKeyRangeIsCheckedAgainstItselfThePrefixAndTheKindOfMapping() {
    byte[] a = {'a'};
    byte[] b = {'b'};
    assertThatThrownBy(() -> TreeMapping.builder(tree).keyRange(null, b))
        .isInstanceOf(NullPointerException.class).hasMessage("keyRange from must not be null");
    assertThatThrownBy(() -> TreeMapping.builder(tree).keyRange(b, a))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("keyRange until (61) must come after from (62): the range is [from, until)");
    assertThatThrownBy(() -> TreeMapping.builder(tree).keyRange(a, a))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must come after from");
    assertThatThrownBy(() -> TreeMapping.builder(tree).prefix(new byte[] {'p'}).table("t").keyRange(a, null).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("keyRange from (61) must start with the mapping's prefix (70): both bounds are whole keys,"
            + " prefix included");
    assertThatThrownBy(() -> TreeMapping.builder(tree).prefix(new byte[] {'p'}).table("t")
            .keyRange(new byte[] {'p', 'a'}, new byte[] {'r'}).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("keyRange until (72) lies past the keys of the mapping's prefix (70), which end before 71;"
            + " pass null to reach the end of the prefix");
    assertThatThrownBy(() -> TreeMapping.builder(tree).insert("insert into t values ($1)", (k, v) -> Params.of(1))
            .remove("delete from t", k -> Params.of()).keyRange(a, b).build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("keyRange needs table(name)");
    // The prefix's end itself, a range without end, and an empty prefix with any range are fine.
    TreeMapping.builder(tree).prefix(new byte[] {'p'}).table("t").keyRange(new byte[] {'p'}, new byte[] {'q'})
        .build();
    TreeMapping.builder(tree).prefix(new byte[] {'p'}).table("t").keyRange(new byte[] {'p', 5}, null).build();
    TreeMapping.builder(tree).table("t").keyRange(new byte[0], new byte[] {(byte) 0xff, 0}).build();
  }

  @Test
  void validReplicationBuilds() {
    Replication replication = Replication.builder().postgres(URL).source(store.db).name("orders.v-1_x")
        .tree(mapping(tree)).tree(mapping(store.family("cf2"))).build();
    assertThat(replication.name()).isEqualTo("orders.v-1_x");
    assertThat(replication.trees()).extracting(TreeMapping::name).containsExactly("cf1", "cf2");
    assertThat(Replication.builder().postgres(URL).source(store.db).tree(mapping(tree)).build().name())
        .isEqualTo("default");
  }

  @Test
  void postgresUrlMustNotBeNull() {
    assertThatThrownBy(() -> Replication.builder().postgres((String) null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("postgres");
  }

  @Test
  void postgresDataSourceMustNotBeNull() {
    assertThatThrownBy(() -> Replication.builder().postgres((DataSource) null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("postgres");
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "jdbc:mysql://localhost:3306/app?user=app&password=secret",
      "jdbc:h2:mem:app;password=secret",
      "postgresql://localhost:5432/app?password=secret",
      "jdbc:postgres://localhost:5432/app?password=secret",
      "",
  })
  void postgresUrlMustBeAPostgresJdbcUrl(String url) {
    assertThatThrownBy(() -> Replication.builder().postgres(url))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("postgres")
        .hasMessageContaining("jdbc:postgresql:")
        .hasMessageNotContaining("secret");
  }

  @Test
  void postgresCannotBeBothUrlAndDataSource() {
    PGSimpleDataSource dataSource = new PGSimpleDataSource();
    assertThatThrownBy(() -> Replication.builder().postgres(URL).postgres(dataSource))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("postgres");
    assertThatThrownBy(() -> Replication.builder().postgres(dataSource).postgres(URL))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("postgres");
  }

  @Test
  void sourceMustNotBeNull() {
    assertThatThrownBy(() -> Replication.builder().source(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("source");
  }

  @Test
  void sourceMustBeOpen() throws RocksDBException {
    TestStore closed = TestStore.open(dir.resolve("closed"), "cf1");
    closed.close();
    assertThatThrownBy(() -> Replication.builder().source(closed.db))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("source");
  }

  @Test
  void nameMustNotBeNull() {
    assertThatThrownBy(() -> Replication.builder().name(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("name");
  }

  @ParameterizedTest
  @ValueSource(strings = {"", " ", "has space", "slash/name", "quote'name", "semi;colon", "ünïcode", "tab\tname"})
  void badNamesAreRejected(String name) {
    assertThatThrownBy(() -> Replication.builder().name(name))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("name");
  }

  @Test
  void nameLengthIsLimited() {
    assertThatCode(() -> Replication.builder().name("n".repeat(100))).doesNotThrowAnyException();
    assertThatThrownBy(() -> Replication.builder().name("n".repeat(101)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("name");
  }

  @Test
  void treeMustNotBeNull() {
    assertThatThrownBy(() -> Replication.builder().tree(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("tree");
  }

  @Test
  void buildRequiresPostgres() {
    assertThatThrownBy(() -> Replication.builder().source(store.db).tree(mapping(tree)).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("postgres");
  }

  @Test
  void buildRequiresSource() {
    assertThatThrownBy(() -> Replication.builder().postgres(URL).tree(mapping(tree)).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("source");
  }

  @Test
  void buildRequiresATree() {
    assertThatThrownBy(() -> Replication.builder().postgres(URL).source(store.db).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("tree");
  }

  @Test
  void mappingNamesMustBeDistinct() {
    // Two mappings of the same tree without prefix or name get the same default name.
    assertThatThrownBy(() -> Replication.builder().postgres(URL).source(store.db)
        .tree(mapping(tree)).tree(mapping(tree)).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("'cf1'")
        .hasMessageContaining("name");
    // Explicit names that clash.
    TreeMapping first = TreeMapping.builder(tree).name("same").prefix(new byte[] {1})
        .insert(INSERT_SQL, INSERT).remove(REMOVE_SQL, REMOVE).build();
    TreeMapping second = TreeMapping.builder(store.family("cf2")).name("same")
        .insert(INSERT_SQL, INSERT).remove(REMOVE_SQL, REMOVE).build();
    assertThatThrownBy(() -> Replication.builder().postgres(URL).source(store.db)
        .tree(first).tree(second).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("'same'");
    // Same tree with different prefixes, or the same prefix with different names, is fine.
    TreeMapping a = TreeMapping.builder(tree).prefix(new byte[] {'a'})
        .insert(INSERT_SQL, INSERT).remove(REMOVE_SQL, REMOVE).build();
    TreeMapping b = TreeMapping.builder(tree).prefix(new byte[] {'b'})
        .insert(INSERT_SQL, INSERT).remove(REMOVE_SQL, REMOVE).build();
    TreeMapping b2 = TreeMapping.builder(tree).prefix(new byte[] {'b'}).name("b-again")
        .insert(INSERT_SQL, INSERT).remove(REMOVE_SQL, REMOVE).build();
    Replication ok = Replication.builder().postgres(URL).source(store.db).tree(a).tree(b).tree(b2).build();
    assertThat(ok.trees()).extracting(TreeMapping::name).containsExactly("cf1/61", "cf1/62", "b-again");
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "jdbc:postgresql://localhost:5432/app?user=app&password=secret",
      "jdbc:postgresql://localhost:5432/app?password=secret&user=app",
      "jdbc:postgresql://localhost:5432/app?user=app&password=secret&ssl=true",
      "jdbc:postgresql://localhost:5432/app?user=app&PASSWORD=secret",
  })
  void toStringHidesThePassword(String url) {
    Replication replication = Replication.builder().postgres(url).source(store.db).name("shown")
        .tree(mapping(tree)).build();
    assertThat(replication.toString())
        .doesNotContain("secret")
        .contains("shown")
        .contains("localhost:5432/app");
  }

  // ------------------------------------------------------------------ TreeMapping.Builder

  @Test
  void columnFamilyMustNotBeNull() {
    assertThatThrownBy(() -> TreeMapping.builder((org.rocksdb.ColumnFamilyHandle) null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("columnFamily");
    assertThatThrownBy(() -> TreeMapping.builder((String) null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("columnFamilyName");
    assertThatThrownBy(() -> TreeMapping.builder(""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("columnFamilyName");
  }

  @Test
  void followAndSourceAreExclusiveAndFollowerDirNeedsFollow(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws Exception {
    try (TestStore store = TestStore.open(dir.resolve("store"), "cf")) {
      assertThatThrownBy(() -> Replication.builder().source(store.db).follow(dir))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("follow(storeDir)");
      assertThatThrownBy(() -> Replication.builder().follow(dir).source(store.db))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("source(rocksDb)");
      assertThatThrownBy(() -> Replication.builder().follow(null))
          .isInstanceOf(NullPointerException.class).hasMessageContaining("follow storeDir");
      assertThatThrownBy(() -> Replication.builder().followerDir(null))
          .isInstanceOf(NullPointerException.class).hasMessageContaining("followerDir");
      TreeMapping named = TreeMapping.builder("cf").table("t").keyColumn("k", Decoders.int64()).build();
      TreeMapping withHandle = TreeMapping.builder(store.family("cf")).table("t").keyColumn("k", Decoders.int64()).build();
      assertThatThrownBy(() -> Replication.builder().postgres("jdbc:postgresql://localhost/db").source(store.db)
          .followerDir(dir.resolve("f")).tree(named).build())
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("followerDir needs follow");
      assertThatThrownBy(() -> Replication.builder().postgres("jdbc:postgresql://localhost/db").follow(dir)
          .followerDir(dir.resolve("inside")).tree(named).build())
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("followerDir");
      assertThatThrownBy(() -> Replication.builder().postgres("jdbc:postgresql://localhost/db").follow(dir)
          .tree(withHandle).build())
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("TreeMapping.builder(\"cf\")");
      assertThat(Replication.builder().postgres("jdbc:postgresql://localhost/db").source(store.db).tree(named)
          .build().trees()).containsExactly(named);
    }
  }

  @Test
  void partitionsMustBeInRangeOnADeclaredTableWithNamesPostgresKeeps() {
    for (int count : new int[] {0, -1, TreeMapping.MAX_PARTITIONS + 1}) {
      assertThatThrownBy(() -> TreeMapping.builder(tree).partitions(count))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("partitions must be 1 to 1024 but was " + count);
    }
    assertThatThrownBy(() -> TreeMapping.builder(tree).partitions(4).insert(INSERT_SQL, INSERT)
        .remove(REMOVE_SQL, REMOVE).build())
        .isInstanceOf(IllegalStateException.class).hasMessage("partitions need table(name)");
    String longest = "t".repeat(63 - "_p1023".length());
    assertThat(TreeMapping.builder(tree).table(longest).keyColumn("k", Decoders.int64())
        .partitions(TreeMapping.MAX_PARTITIONS).build().isDeclaredTable()).isTrue();
    assertThatThrownBy(() -> TreeMapping.builder(tree).table("shop", longest + "x").keyColumn("k", Decoders.int64())
        .partitions(TreeMapping.MAX_PARTITIONS).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("partitions: the partition name '" + longest + "x_p1023' is longer than PostgreSQL's 63 bytes;"
            + " give the table a shorter name");
    assertThat(TreeMapping.builder(tree).table(longest + "x").keyColumn("k", Decoders.int64()).partitions(10)
        .build().isDeclaredTable()).as("_p9 fits").isTrue();
  }

  @Test
  void mappingNameMustNotBeNullOrBlank() {
    assertThatThrownBy(() -> TreeMapping.builder(tree).name(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("name");
    assertThatThrownBy(() -> TreeMapping.builder(tree).name(""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("name");
    assertThatThrownBy(() -> TreeMapping.builder(tree).name("  "))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("name");
  }

  @Test
  void prefixMustNotBeNullAndIsCopied() {
    assertThatThrownBy(() -> TreeMapping.builder(tree).prefix(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("prefix");
    byte[] prefix = {'a', ':'};
    TreeMapping.Builder builder = TreeMapping.builder(tree).prefix(prefix)
        .insert(INSERT_SQL, INSERT).remove(REMOVE_SQL, REMOVE);
    prefix[0] = 'z';
    TreeMapping mapping = builder.build();
    assertThat(mapping.prefix()).containsExactly('a', ':');
    mapping.prefix()[0] = 'z';
    assertThat(mapping.prefix()).containsExactly('a', ':');
    assertThat(mapping.name()).isEqualTo("cf1/613a");
    assertThat(mapping.treeName()).isEqualTo("cf1");
  }

  @Test
  void createCommandsMustNotBeNullOrBlank() {
    assertThatThrownBy(() -> TreeMapping.builder(tree).createCommands(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("createCommands");
    assertThatThrownBy(() -> TreeMapping.builder(tree).createCommands(" \n "))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("createCommands");
  }

  @Test
  void insertSqlAndParametersAreChecked() {
    assertThatThrownBy(() -> TreeMapping.builder(tree).insert(null, INSERT))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("insert");
    assertThatThrownBy(() -> TreeMapping.builder(tree).insert("", INSERT))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("insert");
    assertThatThrownBy(() -> TreeMapping.builder(tree).insert("   ", INSERT))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("insert");
    assertThatThrownBy(() -> TreeMapping.builder(tree).insert(INSERT_SQL, null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("insert");
    assertThatThrownBy(() -> TreeMapping.builder(tree).insert("insert into t values ('oops, $1)", INSERT))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("insert")
        .hasMessageContaining("unterminated");
    assertThatThrownBy(() -> TreeMapping.builder(tree).insert("insert into t values ($0)", INSERT))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("insert");
  }

  @Test
  void removeSqlAndParametersAreChecked() {
    assertThatThrownBy(() -> TreeMapping.builder(tree).remove(null, REMOVE))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("remove");
    assertThatThrownBy(() -> TreeMapping.builder(tree).remove("\t", REMOVE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("remove");
    assertThatThrownBy(() -> TreeMapping.builder(tree).remove(REMOVE_SQL, null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("remove");
    assertThatThrownBy(() -> TreeMapping.builder(tree).remove("delete from t where k = $1 /* open", REMOVE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("remove")
        .hasMessageContaining("unterminated");
  }

  @Test
  void buildRequiresInsert() {
    assertThatThrownBy(() -> TreeMapping.builder(tree).remove(REMOVE_SQL, REMOVE).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("insert");
  }

  @Test
  void buildRequiresRemove() {
    assertThatThrownBy(() -> TreeMapping.builder(tree).insert(INSERT_SQL, INSERT).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("remove");
  }

  @Test
  void buildRequiresAnOpenColumnFamily() throws RocksDBException {
    TestStore other = TestStore.open(dir.resolve("other"), "gone");
    TreeMapping.Builder builder = TreeMapping.builder(other.family("gone"))
        .insert(INSERT_SQL, INSERT).remove(REMOVE_SQL, REMOVE);
    other.close();
    assertThatThrownBy(builder::build)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("columnFamily");
  }

  @Test
  void paramsRejectANullArray() {
    assertThatThrownBy(() -> Params.of((Object[]) null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("values");
  }

  @Test
  void paramsCopyByteArrays() {
    byte[] bytes = {1, 2, 3};
    Params params = Params.of(bytes, null, 4);
    bytes[0] = 9;
    assertThat((byte[]) params.get(0)).containsExactly(1, 2, 3);
    assertThat(params.size()).isEqualTo(3);
    assertThat(params.get(1)).isNull();
    assertThat(params).isEqualTo(Params.of(new byte[] {1, 2, 3}, null, 4));
  }
}
