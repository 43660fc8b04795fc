package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kv2pg.ReplicationRecord.MappingCopy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDBException;

/**
 * {@link ReplicationRecords} against a real replication: what it reads after a copy and while
 * streaming, nothing (and no error) where kv2pg never ran, forget refused while a runner holds
 * the lock, and a forgotten replication or mapping copied again at the next start, its tables
 * then equal to the store. Passwords stay masked in every message.
 */
class ReplicationRecordsTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final HexFormat HEX = HexFormat.of();
  private static final String NAME = "records";
  private static final byte[] ITEMS = "i:".getBytes(StandardCharsets.UTF_8);

  @TempDir Path dir;

  private static Replication replication(String url, TestStore store) {
    ColumnFamilyHandle data = store.family("data");
    return Replication.builder().postgres(url).source(store.db).name(NAME)
        .tree(VerificationTest.orders(data))
        .tree(VerificationTest.items(data))
        .build();
  }

  private static void write(TestStore store, long fromId, long toId, int version) throws RocksDBException {
    ColumnFamilyHandle data = store.family("data");
    for (long id = fromId; id < toId; id++) {
      store.db.put(data, VerificationTest.key(id), VerificationTest.value(id, version));
    }
  }

  private static void writeItems(TestStore store, int count) throws RocksDBException {
    for (int i = 0; i < count; i++) {
      store.db.put(store.family("data"), ("i:" + i).getBytes(StandardCharsets.UTF_8), new byte[] {(byte) i});
    }
  }

  private static void assertTablesMatchStore(String url, TestStore store, Replication replication) {
    VerificationTest.assertOrdersMatchStore(url, store);
    assertThat(TestPostgres.query(url, "select encode(kv_key, 'hex'), encode(v, 'hex') from items order by kv_key"))
        .isEqualTo(store.entries("data", ITEMS).stream()
            .map(entry -> List.<Object>of(HEX.formatHex(entry[0]), HEX.formatHex(entry[1]))).toList());
    VerificationReport report = Verification.of(replication).run();
    assertThat(report.isClean()).as(report.format()).isTrue();
  }

  private static MappingCopy copy(ReplicationRecord record, String mapping) {
    return record.copy(mapping).orElseThrow(() -> new AssertionError("no copy of " + mapping + " in " + record));
  }

  @Test
  void readsTheCheckpointAndCopiesAfterACopyAndWhileStreaming() throws Exception {
    String url = TestPostgres.newDatabase();
    ReplicationRecords records = ReplicationRecords.of(url);
    try (TestStore store = TestStore.open(dir, "data")) {
      write(store, 0, 50, 0);
      writeItems(store, 5);
      Replication replication = replication(url, store);
      Instant before = Instant.now().minusSeconds(60);
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, WAIT, "copy");
        ReplicationRecord copied = records.read(NAME).orElseThrow();
        assertThat(copied.name()).isEqualTo(NAME);
        assertThat(copied.appliedSequence()).hasValue(store.db.getLatestSequenceNumber());
        assertThat(copied.epoch()).isEqualTo(1);
        assertThat(copied.running()).isTrue();
        assertThat(copied.failed()).isFalse();
        assertThat(copied.failure()).isEmpty();
        assertThat(copied.failedAt()).isEmpty();
        assertThat(copied.committedAt()).hasValueSatisfying(at -> assertThat(at).isAfter(before));
        assertThat(copied.copies()).extracting(MappingCopy::mapping).containsExactly("items", "orders");
        assertThat(copied.unfinishedCopies()).isEmpty();
        assertThat(copy(copied, "orders").rowsCopied()).isEqualTo(50);
        assertThat(copy(copied, "items").rowsCopied()).isEqualTo(5);
        assertThat(copy(copied, "orders").completed()).isTrue();
        assertThat(copy(copied, "orders").snapshotSequence()).isLessThanOrEqualTo(copied.appliedSequence().getAsLong());

        write(store, 50, 60, 1);
        Await.caughtUp(running, WAIT, "stream");
        ReplicationRecord streamed = records.read(NAME).orElseThrow();
        assertThat(streamed.appliedSequence()).hasValue(store.db.getLatestSequenceNumber());
        assertThat(streamed.appliedSequence().getAsLong()).isGreaterThan(copied.appliedSequence().getAsLong());
        assertThat(streamed.copies()).as("streaming leaves the copy rows as they were").isEqualTo(copied.copies());
        assertThat(records.list()).extracting(ReplicationRecord::name).containsExactly(NAME);
      }
      ReplicationRecord stopped = records.read(NAME).orElseThrow();
      assertThat(stopped.running()).isFalse();
      assertThat(stopped.appliedSequence()).hasValue(store.db.getLatestSequenceNumber());

      // A second name sorts into the list by name; a name never run reads as empty. Its table is
      // its own: two replications cannot own the same rows of one table.
      try (RunningReplication other = Replication.builder().postgres(url).source(store.db).name("another")
          .tree(TreeMapping.builder(store.family("data")).prefix("i:".getBytes(StandardCharsets.UTF_8))
              .name("items").table("items_of_another").valueColumn("v", Decoders.bytes()).build())
          .build().start()) {
        Await.caughtUp(other, WAIT, "another");
      }
      assertThat(records.list()).extracting(ReplicationRecord::name).containsExactly("another", NAME);
      assertThat(records.read("unknown")).isEmpty();
      assertThat(records.read("")).isEmpty();
    }
  }

  @Test
  void aDatabaseKv2pgNeverRanAgainstRecordsNothing() {
    String url = TestPostgres.newDatabase();
    ReplicationRecords records = ReplicationRecords.of(url);
    assertThat(records.list()).isEmpty();
    assertThat(records.read(NAME)).isEmpty();
    assertThat(records.forget(NAME)).isFalse();
    assertThat(records.forget(NAME, "orders")).isFalse();
    assertThat(TestPostgres.query(url, "select count(*) from pg_namespace where nspname = 'kv2pg'"))
        .as("reading creates nothing").containsExactly(List.of(0L));
  }

  @Test
  void forgetIsRefusedWhileARunnerHoldsTheLock() throws Exception {
    String url = TestPostgres.newDatabase();
    ReplicationRecords records = ReplicationRecords.of(url);
    try (TestStore store = TestStore.open(dir, "data")) {
      write(store, 0, 20, 0);
      writeItems(store, 3);
      try (RunningReplication running = replication(url, store).start()) {
        Await.caughtUp(running, WAIT, "copy");
        ReplicationRecord before = records.read(NAME).orElseThrow();
        assertThatThrownBy(() -> records.forget(NAME))
            .isInstanceOf(IllegalStateException.class)
            .hasMessageContaining("Cannot forget replication '" + NAME + "'")
            .hasMessageContaining("is running against")
            .hasMessageContaining("nothing was forgotten");
        assertThatThrownBy(() -> records.forget(NAME, "orders"))
            .isInstanceOf(IllegalStateException.class)
            .hasMessageContaining("Cannot forget mapping 'orders' of replication '" + NAME + "'");
        ReplicationRecord after = records.read(NAME).orElseThrow();
        assertThat(after.copies()).isEqualTo(before.copies());
        assertThat(after.appliedSequence()).isEqualTo(before.appliedSequence());

        write(store, 20, 25, 1);
        Await.caughtUp(running, WAIT, "the runner goes on after a refused forget");
      }
    }
  }

  @Test
  void aForgottenReplicationIsCopiedAgainAtItsNextStart() throws Exception {
    String url = TestPostgres.newDatabase();
    ReplicationRecords records = ReplicationRecords.of(url);
    try (TestStore store = TestStore.open(dir, "data")) {
      write(store, 0, 40, 0);
      writeItems(store, 4);
      Replication replication = replication(url, store);
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, WAIT, "first copy");
      }
      // While stopped: new entries, deleted ones, and the tables emptied (a copy upserts, so rows
      // deleted from the store would otherwise stay).
      write(store, 40, 70, 1);
      for (long id = 0; id < 10; id++) {
        store.db.delete(store.family("data"), VerificationTest.key(id));
      }
      TestPostgres.execute(url, "truncate orders, items");

      assertThat(records.forget(NAME)).isTrue();
      assertThat(records.read(NAME)).isEmpty();
      assertThat(records.list()).isEmpty();
      assertThat(records.forget(NAME)).as("nothing left to forget").isFalse();

      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, WAIT, "copy after forget");
        ReplicationRecord again = records.read(NAME).orElseThrow();
        assertThat(again.epoch()).as("a new checkpoint row").isEqualTo(1);
        assertThat(again.appliedSequence()).hasValue(store.db.getLatestSequenceNumber());
        assertThat(copy(again, "orders").rowsCopied()).isEqualTo(60);
        assertThat(copy(again, "items").rowsCopied()).isEqualTo(4);
        write(store, 70, 75, 2);
        Await.caughtUp(running, WAIT, "stream after the new copy");
      }
      assertTablesMatchStore(url, store, replication);
    }
  }

  @Test
  void aForgottenMappingIsCopiedAgainWhileTheOthersStream() throws Exception {
    String url = TestPostgres.newDatabase();
    ReplicationRecords records = ReplicationRecords.of(url);
    try (TestStore store = TestStore.open(dir, "data")) {
      write(store, 0, 30, 0);
      writeItems(store, 6);
      Replication replication = replication(url, store);
      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, WAIT, "first copy");
      }
      MappingCopy ordersCopy = copy(records.read(NAME).orElseThrow(), "orders");
      write(store, 30, 35, 1);
      TestPostgres.execute(url, "truncate items");

      assertThat(records.forget(NAME, "unknown")).isFalse();
      assertThat(records.forget(NAME, "items")).isTrue();
      ReplicationRecord forgotten = records.read(NAME).orElseThrow();
      assertThat(forgotten.copies()).containsExactly(ordersCopy);
      assertThat(forgotten.appliedSequence()).as("the checkpoint stays").isPresent();

      try (RunningReplication running = replication.start()) {
        Await.caughtUp(running, WAIT, "copy of the forgotten mapping");
        ReplicationRecord again = records.read(NAME).orElseThrow();
        assertThat(again.epoch()).as("the same checkpoint row, claimed again").isEqualTo(2);
        assertThat(copy(again, "orders")).as("orders not copied again").isEqualTo(ordersCopy);
        MappingCopy items = copy(again, "items");
        assertThat(items.rowsCopied()).isEqualTo(6);
        assertThat(items.completed()).isTrue();
        assertThat(items.snapshotSequence()).isGreaterThan(ordersCopy.snapshotSequence());
      }
      assertTablesMatchStore(url, store, replication);
    }
  }

  @Test
  void aPasswordNeverShowsInMessagesOrToString() throws Exception {
    String password = "Pw-s3cret;x";
    String admin = TestPostgres.newDatabase();
    String database = admin.substring(admin.lastIndexOf('/') + 1, admin.indexOf('?'));
    String user = "records_user_" + database;
    TestPostgres.execute(admin, "create role " + user + " login password '" + password + "';"
        + " grant create on database " + database + " to " + user + ";"
        + " grant create, usage on schema public to " + user);
    String base = admin.substring(0, admin.indexOf('?'));
    String url = base + "?user=" + user + "&password=" + password + "&ApplicationName=records";
    String masked = base + "?user=" + user + "&password=***&ApplicationName=records";

    ReplicationRecords records = ReplicationRecords.of(url);
    assertThat(records.toString()).isEqualTo("ReplicationRecords[" + masked + "]");
    try (TestStore store = TestStore.open(dir, "data")) {
      write(store, 0, 5, 0);
      try (RunningReplication running = replication(url, store).start()) {
        Await.caughtUp(running, WAIT, "copy");
        assertThat(records.read(NAME)).map(ReplicationRecord::toString).hasValueSatisfying(
            text -> assertThat(text).doesNotContain(password));
        assertThatThrownBy(() -> records.forget(NAME))
            .hasMessageContaining(masked)
            .satisfies(error -> assertThat(error.getMessage()).doesNotContain(password));
      }
    }

    String unreachable = "jdbc:postgresql://localhost:1/db?user=" + user + "&password=" + password;
    assertThatThrownBy(() -> ReplicationRecords.of(unreachable).list())
        .isInstanceOf(ReplicationException.class)
        .hasMessageStartingWith("Could not read the replications in jdbc:postgresql://localhost:1/db?user=" + user
            + "&password=***")
        .satisfies(error -> assertThat(error.getMessage()).doesNotContain(password));

    assertThatThrownBy(() -> ReplicationRecords.of("jdbc:mysql://host/db?password=" + password))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("postgres jdbcUrl must start with jdbc:postgresql: but starts with 'jdbc:mysql:'");
    assertThatThrownBy(() -> ReplicationRecords.of((String) null))
        .isInstanceOf(NullPointerException.class).hasMessage("postgres jdbcUrl must not be null");
    assertThatThrownBy(() -> ReplicationRecords.of((javax.sql.DataSource) null))
        .isInstanceOf(NullPointerException.class).hasMessage("postgres dataSource must not be null");
    assertThatThrownBy(() -> records.read(null)).hasMessage("name must not be null");
    assertThatThrownBy(() -> records.forget(NAME, null)).hasMessage("mapping must not be null");
  }
}
