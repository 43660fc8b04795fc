package io.kv2pg;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The follower that {@link FollowCrashTest} kills: {@link #replication} of a store that {@link
 * FollowPrimaryChild} owns, run until it is killed.
 *
 * <p>Arguments: store directory, follower directory, JDBC URL. Prints {@value #STREAMING} once it
 * streams; exits by itself on trouble: code 3 when the replication failed, 4 after {@value
 * #MAX_RUN_SECONDS} s.
 */
public final class FollowerChild {
  static final String NAME = "followcrash";
  static final String STREAMING = "STREAMING";
  private static final long MAX_RUN_SECONDS = 180;

  private FollowerChild() {}

  public static void main(String[] args) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(MAX_RUN_SECONDS);
    RunningReplication running = replication(Path.of(args[0]), Path.of(args[1]), args[2]).start();
    boolean announced = false;
    while (System.nanoTime() < deadline) {
      ReplicationStatus status = running.status();
      if (status.state() == ReplicationState.FAILED) {
        System.out.println("FAILED: " + status.failure().map(Throwable::toString).orElse("?"));
        System.out.flush();
        System.exit(3);
      }
      if (!announced && status.state() == ReplicationState.STREAMING) {
        System.out.println(STREAMING);
        System.out.flush();
        announced = true;
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
    }
    System.out.println("TIMEOUT: nobody killed this process");
    System.out.flush();
    System.exit(4);
  }

  /** The three trees, each into its table (made by {@link VersionedWorkload#createStatementTable}). */
  static Replication replication(Path storeDir, Path followerDir, String url) {
    Replication.Builder builder = Replication.builder().postgres(url).name(NAME).follow(storeDir)
        .followerDir(followerDir);
    for (String tree : FollowPrimaryChild.TREES) {
      builder.tree(mapping(tree));
    }
    return builder.build();
  }

  static String table(String tree) {
    return "f_" + tree;
  }

  private static TreeMapping mapping(String tree) {
    String table = table(tree);
    return TreeMapping.builder(tree)
        .insert("insert into " + table + " (key, version, payload) values ($1, $2, $3)"
                + " on conflict (key) do update set version = excluded.version, payload = excluded.payload",
            (key, value) -> Params.of(CrashChild.text(key), CrashChild.version(value), CrashChild.payload(value)))
        .remove("delete from " + table + " where key = $1", key -> Params.of(CrashChild.text(key)))
        .build();
  }
}
