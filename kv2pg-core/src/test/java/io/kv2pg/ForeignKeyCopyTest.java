package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;

/**
 * A child tree mapped after its parent tree was already replicated: the parent table is brought
 * up to the copy's snapshot before the child is copied, so a deferred foreign key holds even for
 * parents written while the replication was stopped.
 */
class ForeignKeyCopyTest {
  @TempDir Path dir;

  static byte[] id(long id) {
    return ByteBuffer.allocate(8).putLong(id).array();
  }

  static TreeMapping parents(ColumnFamilyHandle family) {
    return TreeMapping.builder(family).table("parent").keyColumn("id", Decoders.int64())
        .valueColumn("name", Decoders.utf8()).build();
  }

  static TreeMapping children(ColumnFamilyHandle family) {
    return TreeMapping.builder(family).table("child").keyColumn("id", Decoders.int64())
        .valueColumn("parent_id", Decoders.int64At(0))
        .createCommands("""
            do $$ begin
              alter table child add constraint child_parent_fk foreign key (parent_id)
                references parent (id) deferrable initially deferred;
            exception when duplicate_object then null;
            end $$""")
        .build();
  }

  @Test
  void childTreeAddedLaterSeesParentsWrittenWhileStopped() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "parent", "child")) {
      ColumnFamilyHandle parent = store.family("parent");
      ColumnFamilyHandle child = store.family("child");
      store.db.put(parent, id(1), "one".getBytes());
      Replication first = Replication.builder().postgres(url).source(store.db).name("fk")
          .tree(parents(parent)).build();
      try (RunningReplication running = first.start()) {
        assertThat(running.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
      }

      // While stopped: a new parent, and children that reference it and the old one.
      store.db.put(parent, id(2), "two".getBytes());
      store.db.put(child, id(10), id(2));
      store.db.put(child, id(11), id(1));
      store.db.put(parent, id(3), "three".getBytes());

      Replication second = Replication.builder().postgres(url).source(store.db).name("fk")
          .tree(parents(parent)).tree(children(child)).build();
      try (RunningReplication running = second.start()) {
        assertThat(running.awaitCaughtUp(Duration.ofSeconds(60)))
            .as("%s", running.status().failure()).isTrue();
        store.db.put(parent, id(4), "four".getBytes());
        store.db.put(child, id(12), id(4));
        assertThat(running.awaitCaughtUp(Duration.ofSeconds(60)))
            .as("%s", running.status().failure()).isTrue();
      }
      assertThat(TestPostgres.query(url, "select id, name from parent order by id"))
          .isEqualTo(expected(store, "parent", false));
      assertThat(TestPostgres.query(url, "select id, parent_id from child order by id"))
          .isEqualTo(expected(store, "child", true));
    }
  }

  private static List<List<Object>> expected(TestStore store, String family, boolean childValues) {
    List<List<Object>> rows = new ArrayList<>();
    for (byte[][] entry : store.entries(family, new byte[0])) {
      Object value = childValues ? (Object) ByteBuffer.wrap(entry[1]).getLong() : new String(entry[1]);
      rows.add(List.of(ByteBuffer.wrap(entry[0]).getLong(), value));
    }
    return rows;
  }
}
