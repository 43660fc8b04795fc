package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;

/**
 * Micrometer is an optional dependency: an application without it on its class path replicates
 * (and reads its status) without a {@link NoClassDefFoundError}. Runs in a child JVM whose class
 * path leaves Micrometer out.
 */
class MicrometerFreeTest {
  private static final String DONE = "replicated without Micrometer";
  private static final int KEYS = 100;

  @TempDir Path dir;

  @Test
  void replicatesWithoutMicrometerOnTheClassPath() throws Exception {
    String url = TestPostgres.newDatabase();
    try (ChildJvm child = ChildJvm.startWithout("micrometer", Child.class, DONE, url, dir.toString())) {
      assertThat(child.process.waitFor(120, TimeUnit.SECONDS)).as("child ended").isTrue();
      assertThat(child.awaitLine(10, TimeUnit.SECONDS)).as("child output:%n%s", child.output()).isTrue();
      assertThat(child.process.exitValue()).as("child output:%n%s", child.output()).isZero();
    }
    assertThat(TestPostgres.query(url, "select count(*), sum(id)::bigint from t"))
        .isEqualTo(List.of(List.of((long) KEYS, (long) KEYS * (KEYS - 1) / 2)));
  }

  /** Replicates a few keys without Micrometer; prints {@link #DONE} once caught up and stopped. */
  static final class Child {
    public static void main(String[] args) throws Exception {
      try {
        Class.forName("io.micrometer.core.instrument.MeterRegistry");
        throw new AssertionError("Micrometer is on the child's class path");
      } catch (ClassNotFoundException expected) {
        // As an application without Micrometer.
      }
      try (TestStore store = TestStore.open(Path.of(args[1]), "cf1")) {
        ColumnFamilyHandle cf = store.family("cf1");
        for (long id = 0; id < KEYS; id++) {
          store.db.put(cf, ByteBuffer.allocate(8).putLong(id).array(), new byte[] {1});
        }
        Replication replication = Replication.builder().postgres(args[0]).source(store.db).name("plain")
            .tree(TreeMapping.builder(cf).table("t").keyColumn("id", Decoders.int64()).build())
            .build();
        try (RunningReplication running = replication.start()) {
          if (!running.awaitCaughtUp(Duration.ofSeconds(60))) {
            throw new AssertionError("not caught up: " + running.status());
          }
          System.out.println("status: " + running.status());
        }
      }
      System.out.println(DONE);
    }
  }
}
