package io.kv2pg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.kv2pg.TestPostgres;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code verify --repair}: a table damaged by hand ends equal to the store, only its damaged rows
 * are written, the report counts them, and the exit code says how the comparison after ended.
 */
class VerifyRepairTest {
  @TempDir Path dir;
  OneTable table;

  @BeforeEach
  void synced() throws Exception {
    table = new OneTable(dir);
    table.write(0, 1_000, 100, "first");
    CliRun.Result sync = CliRun.run(table.env, "sync", "--config", table.config.toString());
    assertThat(sync.exitCode()).as(sync.toString()).isZero();
  }

  CliRun.Result verify(String... more) {
    return CliRun.run(table.env, Stream.concat(Stream.of("verify", "--config", table.config.toString()),
        Stream.of(more)).toArray(String[]::new));
  }

  static String hex(long id) {
    return HexFormat.of().formatHex(ByteBuffer.allocate(8).putLong(id).array());
  }

  Map<String, String> xmins() {
    Map<String, String> xmins = new HashMap<>();
    for (List<Object> row : TestPostgres.query(table.url, "select encode(kv_key, 'hex'), xmin::text from items")) {
      xmins.put((String) row.get(0), (String) row.get(1));
    }
    return xmins;
  }

  void damage() {
    TestPostgres.execute(table.url, "update items set v = 'changed' where id = 3;"
        + " delete from items where id in (4, 5);"
        + " insert into items (id, v, kv_key) values (5000, 'ghost', '\\x" + hex(5000) + "')");
  }

  @Test
  void repairsTheDamagedRowsOnlyAndEndsEqual() throws Exception {
    damage();
    Map<String, String> before = xmins();

    CliRun.Result repair = verify("--repair");
    assertThat(repair.exitCode()).as(repair.toString()).isZero();
    assertThat(repair.out())
        .contains("DIFF  items (mapping 'items'): 1000 store entries, 999 rows; 2 missing, 1 extra, 1 different\n")
        .contains("REPAIRED items (mapping 'items'): 2 inserted, 1 updated, 1 deleted\n")
        .contains("verify: repaired 4 rows of replication 'honest'; compared again:\n")
        .contains("OK    items (mapping 'items'): 1000 store entries, 1000 rows\n")
        .endsWith("verify: the table of replication 'honest' equals the store\n");
    table.assertTableEqualsStore();
    Map<String, String> after = xmins();
    Set<String> damaged = Set.of(hex(3), hex(4), hex(5), hex(5000));
    Map<String, String> untouchedBefore = new HashMap<>(before);
    Map<String, String> untouchedAfter = new HashMap<>(after);
    untouchedBefore.keySet().removeAll(damaged);
    untouchedAfter.keySet().removeAll(damaged);
    assertThat(untouchedAfter).hasSize(997).isEqualTo(untouchedBefore);
    assertThat(after.get(hex(3))).isNotEqualTo(before.get(hex(3)));

    CliRun.Result again = verify();
    assertThat(again.exitCode()).as(again.toString()).isZero();
    CliRun.Result nothing = verify("--repair");
    assertThat(nothing.exitCode()).as(nothing.toString()).isZero();
    assertThat(nothing.out()).contains("REPAIRED items (mapping 'items'): 0 inserted, 0 updated, 0 deleted\n")
        .contains("verify: repaired 0 rows of replication 'honest'");
    assertThat(xmins()).isEqualTo(after);
  }

  @Test
  void keysAStoppedReplicationHasNotAppliedAreLeftAloneAndReportedBehind() throws Exception {
    damage();
    table.write(4, 6, 2, "later"); // rewrites the two rows deleted by hand; not synced
    CliRun.Result repair = verify("--repair");
    assertThat(repair.exitCode()).as(repair.toString()).isEqualTo(1);
    assertThat(repair.out())
        .contains("2 not compared (written after the checkpoint)")
        .contains("REPAIRED items (mapping 'items'): 0 inserted, 1 updated, 1 deleted\n")
        .contains("BEHIND items (mapping 'items'): ")
        .contains("Run sync first");

    CliRun.Result allowed = verify("--repair", "--allow-behind");
    assertThat(allowed.exitCode()).as(allowed.toString()).isZero();
    assertThat(CliRun.run(table.env, "sync", "--config", table.config.toString()).exitCode()).isZero();
    table.assertTableEqualsStore();
    assertThat(verify().exitCode()).isZero();
  }

  @Test
  void helpDocumentsRepair() {
    assertThat(CliRun.run("verify", "--help").out()).contains("--repair").contains("left alone");
  }
}
