package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.search.Search;
import io.micrometer.core.instrument.TimeGauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * Every meter, read from a {@link SimpleMeterRegistry} through one run's life: a copy held up by a
 * lock (stalled), the copy done, a stream of upserts and deletes, a lost session (a retry), and a
 * bad value (a failure). Each stage checks the meters against {@link RunningReplication#status()}
 * and the table against the store.
 */
class MetricsTest {
  private static final Duration WAIT = Duration.ofSeconds(120);
  private static final String NAME = "metered";
  private static final int COPIED = 2_000;
  private static final int UPDATED = 300;
  private static final int DELETED = 100;
  private static final long BAD_KEY = 999_999;
  /** Longer than the 2 s after which a running statement is described, so the stall names the lock. */
  private static final Duration STALL_AFTER = Duration.ofSeconds(3);

  @TempDir Path dir;

  @Test
  void metersFollowTheStatusThroughACopyAStreamARetryAndAFailure() throws Exception {
    String url = TestPostgres.newDatabase();
    createVersionedTable(url);
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    try (LogCapture log = new LogCapture(); TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      for (long id = 0; id < COPIED; id++) {
        store.db.put(cf, key(id), value(1));
      }
      Replication replication = Replication.builder().postgres(url).source(store.db).name(NAME)
          .stallAfter(STALL_AFTER).meterRegistry(registry).copyChunkRows(500)
          .tree(TreeMapping.builder(cf).name("items").table("t")
              .keyColumn("id", Decoders.int64())
              .valueColumn("version", Decoders.int64())
              .build())
          .build();

      RunningReplication running;
      // A copy held up by a lock: stalled, and the copy's progress shown.
      try (Connection blocker = DriverManager.getConnection(url)) {
        blocker.setAutoCommit(false);
        try (Statement statement = blocker.createStatement()) {
          statement.execute("lock table t in access exclusive mode");
        }
        running = replication.start();
        // The watch thread asks Postgres what a slow statement waits for once a second: wait for its answer.
        ReplicationStatus stalled = Await.status(running, WAIT, "a stalled copy waiting for the lock",
            status -> status.stalled() && status.waitingFor().filter(why -> why.contains("lock")).isPresent());
        assertThat(stalled.state()).isEqualTo(ReplicationState.COPYING);
        assertThat(stalled.copyProgress()).hasValueSatisfying(copy -> {
          assertThat(copy.mapping()).isEqualTo("items");
          assertThat(copy.rowsCopied()).isZero();
          assertThat(copy.estimatedRows()).isPositive();
        });
        assertThat(stalled.lag()).isGreaterThanOrEqualTo(STALL_AFTER);
        assertThat(stalled.commits()).isZero();
        assertThat(gauge(registry, "kv2pg.stalled")).isEqualTo(1);
        assertState(registry, ReplicationState.COPYING);
        assertLagBetweenStatuses(registry, running);
        assertThat(gauge(registry, "kv2pg.lag.sequences")).isEqualTo(running.status().sequenceLag());
        assertThat(counter(registry, "kv2pg.copy.rows", "mapping", "items")).isZero();
        Await.condition(WAIT, "the stall is logged", () -> log.text().contains("[" + NAME + "]: stalled: "));
        assertThat(log.text()).contains("stalled: copying mapping 'items' (0 rows so far)")
            .contains("waiting for: statement on ");
        blocker.rollback();
      }

      // The copy done, and caught up.
      Await.caughtUp(running, WAIT, "the copy");
      ReplicationStatus copied = running.status();
      assertThat(copied.stalled()).isFalse();
      assertThat(copied.lag()).isEqualTo(Duration.ZERO);
      assertThat(copied.copyProgress()).isEmpty();
      assertThat(copied.rowsApplied()).isEqualTo(COPIED);
      assertThat(copied.commits()).isGreaterThanOrEqualTo(COPIED / 500);
      assertThat(counter(registry, "kv2pg.copy.rows", "mapping", "items")).isEqualTo(COPIED);
      assertThat(counter(registry, "kv2pg.commits")).isEqualTo(copied.commits());
      assertThat(timer(registry).count()).isEqualTo(copied.commits());
      assertThat(gauge(registry, "kv2pg.stalled")).isZero();
      assertThat(gauge(registry, "kv2pg.lag")).isZero();
      assertThat(gauge(registry, "kv2pg.lag.sequences")).isZero();
      assertState(registry, ReplicationState.STREAMING);
      Await.condition(WAIT, "the end of the stall is logged",
          () -> log.text().contains("[" + NAME + "]: moving again after a stall"));
      assertThat(rows(url)).containsExactlyElementsOf(storeRows(store, cf));

      // A stream of upserts and deletes on distinct keys: exact counts whatever the grouping.
      for (int b = 0; b < 10; b++) {
        try (WriteBatch batch = new WriteBatch(); WriteOptions options = new WriteOptions()) {
          for (long id = b * (UPDATED / 10); id < (b + 1) * (UPDATED / 10); id++) {
            batch.put(cf, key(id), value(2));
          }
          for (long id = 1000 + b * (DELETED / 10); id < 1000 + (b + 1) * (DELETED / 10); id++) {
            batch.delete(cf, key(id));
          }
          store.db.write(options, batch);
        }
      }
      Await.caughtUp(running, WAIT, "the stream");
      ReplicationStatus streamed = running.status();
      assertThat(counter(registry, "kv2pg.rows.applied", "op", "upsert")).isEqualTo(UPDATED);
      assertThat(counter(registry, "kv2pg.rows.applied", "op", "delete")).isEqualTo(DELETED);
      assertThat(streamed.rowsApplied()).isEqualTo(COPIED + UPDATED + DELETED);
      assertThat(counter(registry, "kv2pg.commits")).isEqualTo(streamed.commits()).isGreaterThan(copied.commits());
      assertThat(timer(registry).count()).isEqualTo(streamed.commits());
      assertThat(gauge(registry, "kv2pg.queue.bytes")).isZero();
      assertThat(rows(url)).containsExactlyElementsOf(storeRows(store, cf));

      // A lost session: retried, counted by SQLSTATE class.
      assertThat(streamed.retries()).isZero();
      TestPostgres.execute(url, "select pg_terminate_backend(pid) from pg_stat_activity"
          + " where application_name = 'kv2pg-" + NAME + "'");
      store.db.put(cf, key(5), value(3));
      Await.caughtUp(running, WAIT, "after the lost session");
      ReplicationStatus retried = running.status();
      assertThat(retried.retries()).isPositive();
      assertThat(counter(registry, "kv2pg.retries")).isEqualTo(retried.retries());
      // The server's 57P01 (terminated by an administrator), or pgjdbc's 08006 (connection lost).
      assertThat(registry.find("kv2pg.retries").counters()).extracting(c -> c.getId().getTag("sqlstate.class"))
          .isSubsetOf("57", "08").isNotEmpty();
      assertThat(counter(registry, "kv2pg.rows.applied", "op", "upsert")).isEqualTo(UPDATED + 1);
      assertThat(rows(url)).containsExactlyElementsOf(storeRows(store, cf));

      // A bad value: failed, still behind.
      store.db.put(cf, key(BAD_KEY), new byte[] {1, 2, 3});
      ReplicationStatus failed = Await.state(running, WAIT, ReplicationState.FAILED);
      assertThat(failed.failure()).isPresent();
      assertState(registry, ReplicationState.FAILED);
      assertThat(gauge(registry, "kv2pg.stalled")).isZero();
      assertThat(gauge(registry, "kv2pg.lag.sequences")).isEqualTo(running.status().sequenceLag()).isPositive();
      assertLagBetweenStatuses(registry, running);
      assertThat(gauge(registry, "kv2pg.lag")).isPositive();
      assertThat(counter(registry, "kv2pg.dead.letters")).isZero().isEqualTo(failed.deadLetters());

      running.close();
      assertThat(registry.getMeters()).as("meters left after close").isEmpty();
      assertThat(log.text()).contains("[" + NAME + "]: copying: ").contains("[" + NAME + "]: streaming from sequence")
          .contains("[" + NAME + "]: failed: ");
    }
  }

  @Test
  void aRetryLoopLogsItsFirstAttemptAndCountsEveryOne() throws Exception {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    try (LogCapture log = new LogCapture(); TestStore store = TestStore.open(dir, "cf1")) {
      ColumnFamilyHandle cf = store.family("cf1");
      store.db.put(cf, key(1), value(1));
      Replication replication = Replication.builder().postgres("jdbc:postgresql://127.0.0.1:1/nowhere?user=x")
          .source(store.db).name(NAME).meterRegistry(registry)
          .tree(TreeMapping.builder(cf).table("t").keyColumn("id", Decoders.int64()).build())
          .build();
      RunningReplication running = replication.start();
      try {
        ReplicationStatus retrying = Await.status(running, WAIT, "four attempts", status -> status.retries() >= 4);
        assertThat(retrying.waitingFor()).hasValueSatisfying(why -> assertThat(why).startsWith("Postgres unreachable"));
        assertThat(counter(registry, "kv2pg.retries", "sqlstate.class", "08"))
            .isGreaterThanOrEqualTo(4).isEqualTo(running.status().retries());
        assertState(registry, ReplicationState.STARTING);
      } finally {
        running.stop(Duration.ofSeconds(5));
      }
      long warnings = log.text().lines()
          .filter(line -> line.contains("[" + NAME + "]: Postgres unreachable") && line.contains("retrying in"))
          .count();
      assertThat(warnings).as(log.text()).isEqualTo(1);
      assertThat(log.text()).doesNotContain("still retrying");
    }
  }

  private static void assertState(SimpleMeterRegistry registry, ReplicationState current) {
    for (ReplicationState state : ReplicationState.values()) {
      assertThat(registry.get("kv2pg.state").tag("state", state.name().toLowerCase(Locale.ROOT))
          .tag("replication", NAME).gauge().value())
          .as("kv2pg.state{state=%s}", state).isEqualTo(state == current ? 1 : 0);
    }
  }

  /** The lag gauge reads between the lags of two statuses taken around it. */
  private static void assertLagBetweenStatuses(SimpleMeterRegistry registry, RunningReplication running) {
    double before = seconds(running.status().lag());
    TimeGauge lag = registry.get("kv2pg.lag").tag("replication", NAME).timeGauge();
    assertThat(lag.baseTimeUnit()).isEqualTo(TimeUnit.SECONDS);
    double read = lag.value(TimeUnit.SECONDS);
    double after = seconds(running.status().lag());
    assertThat(read).isBetween(before, after);
  }

  private static double seconds(Duration duration) {
    return duration.toNanos() / 1e9;
  }

  private static double gauge(SimpleMeterRegistry registry, String name) {
    Meter meter = registry.get(name).tag("replication", NAME).meter();
    return meter instanceof TimeGauge time ? time.value(TimeUnit.SECONDS) : ((Gauge) meter).value();
  }

  private static double counter(SimpleMeterRegistry registry, String name, String... tags) {
    Search search = registry.find(name).tag("replication", NAME).tags(tags);
    return search.counters().stream().mapToDouble(Counter::count).sum();
  }

  private static Timer timer(SimpleMeterRegistry registry) {
    return registry.get("kv2pg.commit.duration").tag("replication", NAME).timer();
  }

  private static void createVersionedTable(String url) {
    TestPostgres.execute(url, """
        create table t (kv_key bytea not null unique, id bigint primary key, version bigint not null);
        create function versions_increase() returns trigger language plpgsql as $$
        begin
          if new.version <= old.version then
            raise exception 'double apply: key % version % after %', new.id, new.version, old.version;
          end if;
          return new;
        end $$;
        create trigger versions before update on t for each row execute function versions_increase();
        """);
  }

  private static byte[] key(long id) {
    return ByteBuffer.allocate(8).putLong(id).array();
  }

  private static byte[] value(long version) {
    return ByteBuffer.allocate(8).putLong(version).array();
  }

  private static List<List<Object>> storeRows(TestStore store, ColumnFamilyHandle cf) {
    List<List<Object>> rows = new ArrayList<>();
    try (RocksIterator it = store.db.newIterator(cf)) {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        rows.add(List.of(ByteBuffer.wrap(it.key()).getLong(), ByteBuffer.wrap(it.value()).getLong()));
      }
    }
    return rows;
  }

  private static List<List<Object>> rows(String url) {
    return TestPostgres.query(url, "select id, version from t order by id");
  }
}
