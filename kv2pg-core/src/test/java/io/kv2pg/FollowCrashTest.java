package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A follower and the primary it follows, both in child JVMs, each killed with SIGKILL and restarted
 * several times while the other runs: the primary's restarts (WAL recovery, a new MANIFEST), its
 * flushes and WAL rotations, and the follower's own crashes never lose, reorder or repeat a write.
 * The version trigger refuses any row applied twice, and at the end every table equals its tree.
 */
class FollowCrashTest {
  private static final Duration WAIT = Duration.ofSeconds(120);
  private static final long SEED = 13;
  /** Sequence numbers the follower must commit between two kills. */
  private static final long PROGRESS = 3_000;

  @TempDir Path dir;

  @Test
  void primaryAndFollowerKilledAndRestartedLoseAndRepeatNothing() throws Exception {
    String url = TestPostgres.newDatabase();
    VersionedWorkload.installTriggerFunction(url);
    for (String tree : FollowPrimaryChild.TREES) {
      VersionedWorkload.createStatementTable(url, FollowerChild.table(tree));
    }
    Path storeDir = dir.resolve("store");
    Path followerDir = dir.resolve("follower");
    ChildJvm primary = startPrimary(storeDir);
    ChildJvm follower = startFollower(storeDir, followerDir, url);
    try {
      for (int round = 0; round < 6; round++) {
        awaitProgress(url, "round " + round, primary, follower);
        if (round % 2 == 0) {
          primary.kill(WAIT, "primary, round " + round);
          primary = startPrimary(storeDir);
        } else {
          follower.kill(WAIT, "follower, round " + round);
          ChildJvm.awaitSessionGone(url, "kv2pg-" + FollowerChild.NAME, WAIT, "round " + round);
          follower = startFollower(storeDir, followerDir, url);
        }
      }
      awaitProgress(url, "last round", primary, follower);
      primary.kill(WAIT, "primary, at the end");
      follower.kill(WAIT, "follower, at the end");
      ChildJvm.awaitSessionGone(url, "kv2pg-" + FollowerChild.NAME, WAIT, "at the end");
    } finally {
      primary.close();
      follower.close();
    }
    // The store is stopped now: one more run of the follower brings Postgres up to its end.
    try (RunningReplication running = FollowerChild.replication(storeDir, followerDir, url).start()) {
      Await.caughtUp(running, WAIT, "the last follower run");
      assertThat(running.status().state()).isEqualTo(ReplicationState.STREAMING);
    }
    VersionedWorkload.assertNoWriteRefused(url, "after the kills");
    try (TestStore store = TestStore.open(storeDir, FollowPrimaryChild.TREES.toArray(String[]::new))) {
      assertThat(CrashChild.lastBatch(store)).as("batches written").isGreaterThan(PROGRESS);
      for (String tree : FollowPrimaryChild.TREES) {
        VersionedWorkload.assertTableEqualsStore(url, store, tree,
            "select key, version, payload from " + FollowerChild.table(tree), "after the kills");
      }
      TableDiff.assertCheckpointAtLatest(url, FollowerChild.NAME, store, "after the kills");
    }
  }

  private static ChildJvm startPrimary(Path storeDir) throws Exception {
    ChildJvm child = ChildJvm.start(FollowPrimaryChild.class, FollowPrimaryChild.WRITING, storeDir.toString(),
        Long.toString(SEED));
    assertThat(child.awaitLine(60, TimeUnit.SECONDS)).as("primary writes: %s", child.output()).isTrue();
    return child;
  }

  private static ChildJvm startFollower(Path storeDir, Path followerDir, String url) throws Exception {
    ChildJvm child = ChildJvm.start(FollowerChild.class, FollowerChild.STREAMING, storeDir.toString(),
        followerDir.toString(), url);
    assertThat(child.awaitLine(60, TimeUnit.SECONDS)).as("follower streams: %s", child.output()).isTrue();
    return child;
  }

  private static void awaitProgress(String url, String where, ChildJvm primary, ChildJvm follower) {
    long from = applied(url);
    Await.condition(WAIT, "the follower commits " + PROGRESS + " more sequence numbers (" + where
        + "); primary: " + primary.output() + " follower: " + follower.output(), () -> {
          assertThat(primary.process.isAlive()).as("primary alive: %s", primary.output()).isTrue();
          assertThat(follower.process.isAlive()).as("follower alive: %s", follower.output()).isTrue();
          return applied(url) >= from + PROGRESS;
        });
  }

  private static long applied(String url) {
    List<List<Object>> rows = TestPostgres.query(url,
        "select applied_sequence from kv2pg.replication where name = '" + FollowerChild.NAME + "'");
    return rows.isEmpty() || rows.get(0).get(0) == null ? 0 : ((Number) rows.get(0).get(0)).longValue();
  }
}
