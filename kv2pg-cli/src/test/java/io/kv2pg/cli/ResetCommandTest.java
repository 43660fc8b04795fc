package io.kv2pg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.kv2pg.Decoders;
import io.kv2pg.Replication;
import io.kv2pg.RunningReplication;
import io.kv2pg.TestPostgres;
import io.kv2pg.TestStore;
import io.kv2pg.TreeMapping;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code kv2pg reset}: confirmation, refusals, one mapping, and the re-copy it leads to. */
class ResetCommandTest {
  @TempDir Path dir;
  OneTable table;

  @BeforeEach
  void setUp() throws Exception {
    table = new OneTable(dir);
    table.write(0, 50, 10, "first");
    CliRun.Result sync = CliRun.run(table.env, "sync", "--config", table.config.toString());
    assertThat(sync.exitCode()).as("%s", sync).isZero();
  }

  private CliRun.Result reset(String... options) {
    String[] args = new String[options.length + 3];
    args[0] = "reset";
    args[1] = "--config";
    args[2] = table.config.toString();
    System.arraycopy(options, 0, args, 3, options.length);
    return CliRun.run(table.env, args);
  }

  /** Runs on a "terminal" that answers {@code answer}. */
  private int resetOnTerminal(String answer, ByteArrayOutputStream out) {
    return Main.run(new String[] {"reset", "--config", table.config.toString()},
        new ByteArrayInputStream(answer.getBytes(StandardCharsets.UTF_8)), new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), table.env::get, true,
        Interrupts.none());
  }

  private List<List<Object>> checkpoint() {
    return TestPostgres.query(table.url, "select applied_sequence from kv2pg.replication where name = '"
        + OneTable.NAME + "'");
  }

  @Test
  void withYesTheNextSyncReplacesTheTableWithoutStaleRows() throws Exception {
    TestPostgres.execute(table.url, "insert into items values (1000, 'stale', '\\x01'::bytea);"
        + " update items set v = 'damaged' where id = 3");
    CliRun.Result reset = reset("--yes");
    assertThat(reset.exitCode()).as("%s", reset).isZero();
    assertThat(reset.out()).contains("reset replication 'honest'", "copies all 1 table(s) again");
    assertThat(checkpoint()).containsExactly(java.util.Collections.singletonList(null));

    table.write(50, 60, 5, "second");
    CliRun.Result sync = CliRun.run(table.env, "sync", "--config", table.config.toString());
    assertThat(sync.exitCode()).as("%s", sync).isZero();
    table.assertTableEqualsStore();
    CliRun.Result verify = CliRun.run(table.env, "verify", "--config", table.config.toString());
    assertThat(verify.exitCode()).as("%s", verify).isZero();
  }

  @Test
  void offATerminalWithoutYesItRefusesAndChangesNothing() {
    List<List<Object>> before = checkpoint();
    CliRun.Result reset = reset();
    assertThat(reset.exitCode()).isEqualTo(Main.USAGE);
    assertThat(reset.err()).contains("add --yes");
    assertThat(checkpoint()).isEqualTo(before);
  }

  @Test
  void onATerminalItAsksAndOnlyYesResets() {
    List<List<Object>> before = checkpoint();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    assertThat(resetOnTerminal("no\n", out)).isEqualTo(Main.FOUND);
    assertThat(out.toString(StandardCharsets.UTF_8)).contains("Type 'yes' to confirm", "not confirmed");
    assertThat(checkpoint()).isEqualTo(before);

    out.reset();
    assertThat(resetOnTerminal("yes\n", out)).as(out.toString(StandardCharsets.UTF_8)).isZero();
    assertThat(checkpoint()).containsExactly(java.util.Collections.singletonList(null));
  }

  @Test
  void oneMappingIsResetAndAnUnknownOneIsAUsageError() throws Exception {
    CliRun.Result unknown = reset("--mapping", "nope", "--yes");
    assertThat(unknown.exitCode()).isEqualTo(Main.USAGE);
    assertThat(unknown.err()).contains("has no mapping 'nope'", "its mappings are: items");

    TestPostgres.execute(table.url, "insert into items values (1000, 'stale', '\\x01'::bytea)");
    List<List<Object>> before = checkpoint();
    CliRun.Result reset = reset("--mapping", "items", "--yes");
    assertThat(reset.exitCode()).as("%s", reset).isZero();
    assertThat(reset.out()).contains("mapping 'items' of replication 'honest'");
    assertThat(checkpoint()).as("the checkpoint stays").isEqualTo(before);
    CliRun.Result sync = CliRun.run(table.env, "sync", "--config", table.config.toString());
    assertThat(sync.exitCode()).as("%s", sync).isZero();
    table.assertTableEqualsStore();
  }

  @Test
  void anUnknownReplicationIsAUsageError() throws Exception {
    Files.writeString(table.config, Files.readString(table.config).replace("name: honest", "name: other"));
    CliRun.Result reset = reset("--yes");
    assertThat(reset.exitCode()).isEqualTo(Main.USAGE);
    assertThat(reset.err()).contains("holds no record of replication 'other'");
  }

  @Test
  void whileTheReplicationRunsItIsRefused() throws Exception {
    List<List<Object>> before = checkpoint();
    // The application's own in-process replication of the same store and name (reset opens no store).
    try (TestStore other = TestStore.open(table.store, "items")) {
      Replication replication = Replication.builder().postgres(table.url).source(other.db).name(OneTable.NAME)
          .tree(TreeMapping.builder(other.family("items")).table("items").keyColumn("id", Decoders.int64())
              .valueColumn("v", Decoders.utf8()).build())
          .build();
      try (RunningReplication running = replication.start()) {
        assertThat(running.awaitCaughtUp(Duration.ofSeconds(60))).as("%s", running.status()).isTrue();
        assertThat(io.kv2pg.ReplicationRecords.of(table.url).read(OneTable.NAME).orElseThrow().running()).isTrue();
        CliRun.Result reset = reset("--yes");
        assertThat(reset.exitCode()).isEqualTo(Main.USAGE);
        assertThat(reset.err()).contains("is running", "stop it first");
      }
    }
    assertThat(checkpoint()).as("not reset").isEqualTo(before);
  }
}
