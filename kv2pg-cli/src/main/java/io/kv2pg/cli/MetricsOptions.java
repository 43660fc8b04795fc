package io.kv2pg.cli;

import picocli.CommandLine.Option;

/** The {@code --metrics-port} and {@code --metrics-host} options of the long-running commands. */
final class MetricsOptions {
  @Option(names = "--metrics-port", paramLabel = "PORT",
      description = "Serve GET /metrics (Prometheus text format) and GET /health on this port while running.")
  Integer port;

  @Option(names = "--metrics-host", paramLabel = "HOST", defaultValue = "127.0.0.1",
      description = "The address that --metrics-port binds (default: ${DEFAULT-VALUE}; 0.0.0.0 for every one).")
  String host;

  /**
   * Starts the server if {@code --metrics-port} was given, and says where on {@code cli.out}.
   *
   * @return the server, or {@code null} without {@code --metrics-port}
   * @throws CliException if the port is invalid or taken
   */
  MetricsServer start(Cli cli) {
    if (port == null) {
      return null;
    }
    if (port < 0 || port > 65_535) {
      throw new CliException(Main.USAGE, "--metrics-port must be between 0 and 65535 but was " + port);
    }
    MetricsServer server = MetricsServer.start(host, port);
    cli.out.printf("metrics: serving http://%s/metrics and /health%n", server.address());
    return server;
  }
}
