package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;

/** The original crate's README example, including the update it used to lose. */
class CrateExampleTest {
  @TempDir Path dir;

  static byte[] i32(int value) {
    return ByteBuffer.allocate(4).putInt(value).array();
  }

  static int i32(byte[] bytes) {
    return ByteBuffer.wrap(bytes).getInt();
  }

  static TreeMapping mapping(ColumnFamilyHandle tree) {
    return TreeMapping.builder(tree)
        .createCommands("create table if not exists test_table (key integer primary key, value integer not null);")
        .insert("insert into test_table (key, value) values ($1, $2) on conflict (key) do update set value = excluded.value;",
            (key, value) -> Params.of(i32(key), i32(value)))
        .remove("delete from test_table where key = $1;", key -> Params.of(i32(key)))
        .build();
  }

  @Test
  void copiesExistingEntriesThenStreamsInsertsUpdatesAndDeletes() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "test_tree")) {
      ColumnFamilyHandle tree = store.family("test_tree");
      store.db.put(tree, i32(1), i32(10)); // before start: must be copied

      Replication replication = Replication.builder()
          .postgres(url).source(store.db).tree(mapping(tree)).build();
      try (RunningReplication running = replication.start()) {
        store.db.put(tree, i32(2), i32(20)); // after start: must be streamed
        assertThat(running.awaitCaughtUp(Duration.ofSeconds(30))).isTrue();
        assertThat(rows(url)).containsExactly(List.of(1, 10), List.of(2, 20));

        store.db.put(tree, i32(1), i32(11)); // an update, which the crate lost
        store.db.delete(tree, i32(2));
        assertThat(running.awaitCaughtUp(Duration.ofSeconds(30))).isTrue();
        assertThat(rows(url)).containsExactly(List.of(1, 11));

        ReplicationStatus status = running.status();
        assertThat(status.state()).isEqualTo(ReplicationState.STREAMING);
        assertThat(status.appliedSequence()).isEqualTo(store.db.getLatestSequenceNumber());
        assertThat(status.failure()).isEmpty();
      }
      assertThat(TestPostgres.query(url, "select applied_sequence from kv2pg.replication where name = 'default'"))
          .containsExactly(List.of(store.db.getLatestSequenceNumber()));
    }
  }

  static List<List<Object>> rows(String url) {
    return TestPostgres.query(url, "select key, value from test_table order by key");
  }
}
