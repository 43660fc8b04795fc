package io.kv2pg.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.kv2pg.ReplicationState;
import io.kv2pg.ReplicationStatus;
import io.kv2pg.RunningReplication;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Serves a replication's metrics over HTTP on the JDK's {@link HttpServer}: {@code GET /metrics}
 * in the Prometheus text format (rendered by Micrometer's Prometheus registry), and {@code GET
 * /health}: 200 with a one-line JSON body while the replication copies or streams and is not
 * stalled, 503 otherwise (starting, stopped, failed, stalled, or no replication yet).
 *
 * <p>Concurrency: requests run on one daemon thread of the server's; {@link #watch} may come from
 * any thread.
 */
final class MetricsServer implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** The format of {@link PrometheusMeterRegistry#scrape()}. */
  private static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final JvmGcMetrics gcMetrics = new JvmGcMetrics();
  private final HttpServer server;
  private final ExecutorService executor;
  private volatile RunningReplication watched;

  private MetricsServer(HttpServer server) {
    this.server = server;
    new JvmMemoryMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    gcMetrics.bindTo(registry);
    executor = Executors.newSingleThreadExecutor(runnable -> {
      Thread thread = new Thread(runnable, "kv2pg-metrics-http");
      thread.setDaemon(true);
      return thread;
    });
    server.setExecutor(executor);
    server.createContext("/metrics", this::metrics);
    server.createContext("/health", this::health);
    server.start();
  }

  /**
   * Binds {@code host:port} (0: any free port) and starts serving.
   *
   * @throws CliException if the address cannot be bound
   */
  static MetricsServer start(String host, int port) {
    try {
      return new MetricsServer(HttpServer.create(new InetSocketAddress(host, port), 16));
    } catch (BindException e) {
      throw new CliException(Main.USAGE, "--metrics-port " + port + ": cannot listen on " + host + ":" + port
          + " (" + e.getMessage() + "); choose another port, or stop what uses it");
    } catch (IOException | IllegalArgumentException e) {
      throw new CliException(Main.USAGE, "--metrics-host " + host + ": cannot listen on it: " + e.getMessage());
    }
  }

  /** The registry that the replication publishes to. */
  MeterRegistry registry() {
    return registry;
  }

  /** The bound address as {@code host:port}. */
  String address() {
    InetSocketAddress address = server.getAddress();
    return address.getHostString() + ":" + address.getPort();
  }

  /** Makes {@code /health} report on {@code running}. */
  void watch(RunningReplication running) {
    this.watched = running;
  }

  private void metrics(HttpExchange exchange) throws IOException {
    if (!"GET".equals(exchange.getRequestMethod())) {
      respond(exchange, 405, "text/plain; charset=utf-8", "only GET\n");
      return;
    }
    respond(exchange, 200, PROMETHEUS_TEXT, registry.scrape());
  }

  private void health(HttpExchange exchange) throws IOException {
    RunningReplication running = watched;
    ObjectNode body = JSON.createObjectNode();
    boolean healthy;
    if (running == null) {
      body.put("state", "starting");
      healthy = false;
    } else {
      ReplicationStatus status = running.status();
      healthy = isHealthy(status);
      body.put("replication", status.name());
      body.put("state", status.state().name().toLowerCase(Locale.ROOT));
      body.put("stalled", status.stalled());
      body.put("lag_seconds", status.lag().toNanos() / 1e9);
      body.put("sequence_lag", status.sequenceLag());
      body.put("applied_sequence", status.appliedSequence());
      status.waitingFor().ifPresent(why -> body.put("waiting_for", why));
    }
    body.put("healthy", healthy);
    respond(exchange, healthy ? 200 : 503, "application/json", JSON.writeValueAsString(body) + "\n");
  }

  /** Copying or streaming, and not stalled. */
  static boolean isHealthy(ReplicationStatus status) {
    return (status.state() == ReplicationState.COPYING || status.state() == ReplicationState.STREAMING)
        && !status.stalled();
  }

  private static void respond(HttpExchange exchange, int code, String contentType, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", contentType);
    exchange.sendResponseHeaders(code, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  /** Stops serving at once (a request under way gets at most a second). */
  @Override
  public void close() {
    server.stop(1);
    executor.shutdownNow();
    gcMetrics.close();
    registry.close();
  }
}
