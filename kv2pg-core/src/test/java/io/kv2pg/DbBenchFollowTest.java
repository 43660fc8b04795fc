package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Follows a store whose primary is Debian's {@code db_bench} (C++ RocksDB 7.8), a writer no one
 * here wrote, through its flushes, WAL rotations and a restart (a second run on the existing
 * store): afterwards the table equals what {@code ldb scan --hex} reads from the store.
 */
class DbBenchFollowTest {
  private static final Duration WAIT = Duration.ofSeconds(180);

  @TempDir Path dir;

  @Test
  void followsDbBenchThroughARestartIntoAnEqualTable() throws Exception {
    String url = TestPostgres.newDatabase();
    Path storeDir = dir.resolve("bench");
    Path log = dir.resolve("db_bench.log");
    Process first = DbBench.start(storeDir, true, 20_000, log);
    try {
      Await.condition(WAIT, "db_bench settled its store", () -> DbBench.settled(storeDir, log));
      Replication replication = Replication.builder().postgres(url).name("bench").follow(storeDir)
          .tree(TreeMapping.builder("default")
              .createCommands("create table if not exists bench (key bytea primary key, value bytea not null)")
              .insert("insert into bench values ($1, $2) on conflict (key) do update set value = excluded.value",
                  (key, value) -> Params.of(key, value))
              .remove("delete from bench where key = $1", key -> Params.of((Object) key))
              .build())
          .build();
      try (RunningReplication running = replication.start()) {
        DbBench.awaitSuccess(first, log);
        Process second = DbBench.start(storeDir, false, 20_000, dir.resolve("db_bench-2.log"));
        DbBench.awaitSuccess(second, dir.resolve("db_bench-2.log"));
        Await.caughtUp(running, WAIT, "after both db_bench runs");
        ReplicationStatus status = running.status();
        assertThat(status.state()).isEqualTo(ReplicationState.STREAMING);
        assertThat(status.appliedSequence()).as("every write of both runs").isGreaterThanOrEqualTo(100_000);
      }
    } finally {
      first.destroyForcibly();
    }
    List<String> store = DbBench.scan(storeDir);
    assertThat(store).hasSizeGreaterThan(1_000);
    TableDiff.assertSameRows("after db_bench", "bench", store, TableDiff.tableRows(url, "select key, value from bench"));
  }
}
