package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;

/** What happens when the mappings or the store change between runs of one replication name. */
class MappingChangesTest {
  private static final Duration WAIT = Duration.ofSeconds(60);

  @TempDir Path dir;

  static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  static TreeMapping mapping(ColumnFamilyHandle family, String name, String prefix, String table) {
    return TreeMapping.builder(family).name(name).prefix(bytes(prefix)).table(table)
        .keyColumn("k", Decoders.utf8()).valueColumn("v", Decoders.utf8()).build();
  }

  static List<List<Object>> rows(String url, String table) {
    return TestPostgres.query(url, "select k, v from " + table + " order by kv_key");
  }

  static List<List<Object>> expected(TestStore store, String family, String prefix) {
    List<List<Object>> rows = new ArrayList<>();
    for (byte[][] entry : store.entries(family, bytes(prefix))) {
      String key = new String(entry[0], StandardCharsets.UTF_8).substring(prefix.length());
      rows.add(List.of(key, new String(entry[1], StandardCharsets.UTF_8)));
    }
    return rows;
  }

  static void run(String url, TestStore store, TreeMapping... mappings) throws Exception {
    Replication.Builder builder = Replication.builder().postgres(url).source(store.db).name("changes");
    for (TreeMapping mapping : mappings) {
      builder.tree(mapping);
    }
    try (RunningReplication running = builder.build().start()) {
      assertThat(running.awaitCaughtUp(WAIT)).as("%s", running.status()).isTrue();
    }
  }

  @Test
  void mappingLeftOutOfARunIsCopiedAgainWhenItComesBack() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      store.db.put(data, bytes("a:1"), bytes("one"));
      store.db.put(data, bytes("b:1"), bytes("uno"));
      run(url, store, mapping(data, "a", "a:", "ta"), mapping(data, "b", "b:", "tb"));

      store.db.put(data, bytes("b:2"), bytes("dos")); // while b is not mapped: passed by
      run(url, store, mapping(data, "a", "a:", "ta"));
      assertThat(rows(url, "tb")).containsExactly(List.of("1", "uno"));

      run(url, store, mapping(data, "a", "a:", "ta"), mapping(data, "b", "b:", "tb"));
      assertThat(rows(url, "tb")).isEqualTo(expected(store, "data", "b:"));
      assertThat(rows(url, "ta")).isEqualTo(expected(store, "data", "a:"));
    }
  }

  @Test
  void changedPrefixCopiesTheMappingAgain() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      store.db.put(data, bytes("a:1"), bytes("one"));
      store.db.put(data, bytes("b:1"), bytes("uno"));
      run(url, store, mapping(data, "m", "a:", "t"));
      assertThat(rows(url, "t")).containsExactly(List.of("1", "one"));

      run(url, store, mapping(data, "m", "b:", "t_b"));
      assertThat(rows(url, "t_b")).isEqualTo(expected(store, "data", "b:"));
    }
  }

  @Test
  void checkpointAheadOfTheStoreFails() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir.resolve("original"), "data")) {
      ColumnFamilyHandle data = store.family("data");
      for (int i = 0; i < 20; i++) {
        store.db.put(data, bytes("a:" + i), bytes("v" + i));
      }
      run(url, store, mapping(data, "a", "a:", "ta"));
    }
    try (TestStore replaced = TestStore.open(dir.resolve("replaced"), "data")) {
      replaced.db.put(replaced.family("data"), bytes("a:new"), bytes("lost?"));
      Replication replication = Replication.builder().postgres(url).source(replaced.db).name("changes")
          .tree(mapping(replaced.family("data"), "a", "a:", "ta")).build();
      try (RunningReplication running = replication.start()) {
        ReplicationStatus status = Await.state(running, WAIT, ReplicationState.FAILED);
        assertThat(status.state()).isEqualTo(ReplicationState.FAILED);
        assertThat(status.failure().orElseThrow().getMessage())
            .contains("applied the store up to sequence 20", "only reaches sequence 1",
                "restored from a backup or replaced");
      }
    }
  }
}
