package io.kv2pg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kv2pg.ReplicationState;
import io.kv2pg.ReplicationStatus;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@code --metrics-port}: a real Prometheus-format scrape of {@code /metrics} over HTTP while the
 * demo runs, and {@code /health}.
 */
class MetricsEndpointTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> FAMILIES = List.of("kv2pg_lag_seconds", "kv2pg_lag_sequences",
      "kv2pg_rows_applied_total", "kv2pg_commits_total", "kv2pg_commit_duration_seconds", "kv2pg_retries_total",
      "kv2pg_copy_rows_total", "kv2pg_dead_letters_total", "kv2pg_queue_bytes", "kv2pg_state", "kv2pg_stalled");

  @Test
  void theDemoServesPrometheusMetricsAndHealthWhileItRuns() throws Exception {
    int port = LocalHttp.freePort();
    CompletableFuture<CliRun.Result> demo = CompletableFuture.supplyAsync(() -> CliRun.run("demo", "--duration",
        "8s", "--rate", "100", "--orders", "500", "--metrics-port", String.valueOf(port)));
    String metrics = null;
    JsonNode health = null;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (System.nanoTime() < deadline && !demo.isDone()) {
      HttpResponse<String> scrape = LocalHttp.get(port, "/metrics");
      if (scrape != null && scrape.statusCode() == 200 && scrape.body().contains("kv2pg_state{")
          && streaming(scrape.body())) {
        metrics = scrape.body();
        assertThat(scrape.headers().firstValue("Content-Type")).hasValueSatisfying(
            type -> assertThat(type).startsWith("text/plain; version=0.0.4"));
        HttpResponse<String> healthResponse = LocalHttp.get(port, "/health");
        assertThat(healthResponse.statusCode()).as(healthResponse.body()).isEqualTo(200);
        assertThat(healthResponse.body().strip()).doesNotContain("\n");
        health = JSON.readTree(healthResponse.body());
        break;
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
    }
    CliRun.Result result = demo.get(120, TimeUnit.SECONDS);
    assertThat(result.exitCode()).as(result.toString()).isZero();
    assertThat(result.out()).contains("metrics: serving http://127.0.0.1:" + port + "/metrics and /health");
    assertThat(metrics).as("a scrape while streaming; demo output:%n%s", result).isNotNull();
    for (String family : FAMILIES.stream().filter(f -> !f.equals("kv2pg_retries_total")).toList()) {
      assertThat(metrics).as(family).containsPattern("(?m)^" + family + "(_count|_sum|_max)?\\{[^}]*replication=\"kv2pg-demo\"");
    }
    assertThat(metrics).contains("# TYPE kv2pg_lag_seconds gauge").contains("# TYPE kv2pg_commits_total counter")
        .containsPattern("kv2pg_commit_duration_seconds\\{[^}]*quantile=\"0.99\"");
    assertThat(value(metrics, "kv2pg_stalled")).isZero();
    assertThat(value(metrics, "kv2pg_commits_total")).isPositive();
    assertThat(health.get("replication").asText()).isEqualTo("kv2pg-demo");
    assertThat(health.get("state").asText()).isEqualTo("streaming");
    assertThat(health.get("healthy").asBoolean()).isTrue();
    assertThat(health.get("stalled").asBoolean()).isFalse();
    assertThat(health.has("lag_seconds")).isTrue();
    assertThat(LocalHttp.get(port, "/health")).as("the server is closed after the demo").isNull();
  }

  @Test
  void healthIsUnavailableUntilAReplicationRunsAndWhileItIsStalledOrEnded() throws Exception {
    try (MetricsServer server = MetricsServer.start("127.0.0.1", 0)) {
      int port = Integer.parseInt(server.address().substring(server.address().lastIndexOf(':') + 1));
      HttpResponse<String> health = LocalHttp.get(port, "/health");
      assertThat(health.statusCode()).isEqualTo(503);
      assertThat(JSON.readTree(health.body()).get("state").asText()).isEqualTo("starting");
      assertThat(LocalHttp.get(port, "/metrics").statusCode()).isEqualTo(200);
    }
    assertThat(MetricsServer.isHealthy(status(ReplicationState.STREAMING, false))).isTrue();
    assertThat(MetricsServer.isHealthy(status(ReplicationState.COPYING, false))).isTrue();
    assertThat(MetricsServer.isHealthy(status(ReplicationState.STREAMING, true))).isFalse();
    assertThat(MetricsServer.isHealthy(status(ReplicationState.STARTING, false))).isFalse();
    assertThat(MetricsServer.isHealthy(status(ReplicationState.STOPPED, false))).isFalse();
  }

  @Test
  void aTakenPortIsAUsageErrorInOneLine() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
      CliRun.Result result = CliRun.run("demo", "--duration", "1s", "--metrics-port",
          String.valueOf(taken.getLocalPort()));
      assertThat(result.exitCode()).as(result.toString()).isEqualTo(Main.USAGE);
      assertThat(result.err()).contains("--metrics-port " + taken.getLocalPort() + ": cannot listen on");
    }
  }

  private static ReplicationStatus status(ReplicationState state, boolean stalled) {
    return new ReplicationStatus("r", state, 1, 1, 0, Optional.empty(), Optional.empty(), Optional.empty(),
        Duration.ZERO, Optional.empty(), 0, 0, 0, 0, stalled, 0);
  }

  private static boolean streaming(String metrics) {
    return metrics.contains("kv2pg_state{replication=\"kv2pg-demo\",state=\"streaming\"} 1.0");
  }

  private static double value(String metrics, String family) {
    Matcher matcher = Pattern.compile("(?m)^" + family + "\\{[^}]*replication=\"kv2pg-demo\"[^}]*\\} (\\S+)$").matcher(metrics);
    assertThat(matcher.find()).as(family + " in%n" + metrics).isTrue();
    return Double.parseDouble(matcher.group(1));
  }
}
