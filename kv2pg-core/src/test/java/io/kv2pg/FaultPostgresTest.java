package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link FaultPostgres} itself: committed data survives kill -9, and close leaves nothing behind. */
class FaultPostgresTest {
  @Test
  @Timeout(value = 2, unit = TimeUnit.MINUTES)
  void killedServerRestartsWithItsCommittedDataAndCloseLeavesNoProcessOrFolder() throws Exception {
    long pid;
    List<ProcessHandle> children;
    Path data;
    try (FaultPostgres server = FaultPostgres.launch()) {
      String url = server.newDatabase("faults");
      TestPostgres.execute(url, "create table t (id int primary key); insert into t values (1), (2)");
      long first = server.postmasterPid();
      List<ProcessHandle> firstChildren = ProcessHandle.of(first).orElseThrow().children().toList();
      assertThat(firstChildren).as("server processes of the postmaster").isNotEmpty();

      server.kill9();
      assertThat(server.isRunning()).isFalse();
      assertThat(ProcessHandle.of(first).map(ProcessHandle::isAlive).orElse(false)).isFalse();
      assertThatThrownBy(() -> TestPostgres.query(url, "select 1")).isInstanceOf(IllegalStateException.class);

      server.start();
      assertThat(server.postmasterPid()).isNotEqualTo(first);
      assertThat(TestPostgres.query(url, "select id from t order by id")).containsExactly(List.of(1), List.of(2));
      TestPostgres.execute(url, "insert into t values (3)");

      server.restart();
      assertThat(TestPostgres.query(url, "select count(*) from t")).containsExactly(List.of(3L));
      assertThat(server.starts()).isEqualTo(3);

      server.stop();
      assertThat(server.isRunning()).isFalse();
      server.start();
      assertThat(TestPostgres.query(url, "select count(*) from t")).containsExactly(List.of(3L));
      pid = server.postmasterPid();
      children = ProcessHandle.of(pid).orElseThrow().children().toList();
      data = Path.of(TestPostgres.query(url, "show data_directory").get(0).get(0).toString());
      assertThat(TestPostgres.query(url, "select current_setting('listen_addresses')"))
          .containsExactly(List.of("127.0.0.1"));
    }
    assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).as("postmaster after close").isFalse();
    for (ProcessHandle child : children) {
      assertThat(child.isAlive()).as("server process %d after close", child.pid()).isFalse();
    }
    assertThat(Files.exists(data.getParent())).as("folder %s after close", data.getParent()).isFalse();
  }
}
