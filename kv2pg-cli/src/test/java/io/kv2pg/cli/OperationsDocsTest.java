package io.kv2pg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * docs/OPERATIONS.md and docs/grafana/kv2pg-dashboard.json name only metrics that kv2pg serves:
 * every metric in the dashboard's PromQL, in the alert rules (the YAML block of OPERATIONS.md) and
 * anywhere in OPERATIONS.md is in a real Prometheus scrape of {@code kv2pg demo --metrics-port},
 * the dashboard shows every kv2pg metric family that the scrape has, and the page's {@code
 * /health} example has the fields that {@code /health} answers with.
 */
class OperationsDocsTest {
  private static final Path OPERATIONS = Path.of("..", "docs", "OPERATIONS.md");
  private static final Path DASHBOARD = Path.of("..", "docs", "grafana", "kv2pg-dashboard.json");
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * Names that a scrape of a healthy run does not hold but that are right: kv2pg registers
   * kv2pg_retries_total at a run's first retry (one series per SQLSTATE class), and up is the
   * series Prometheus itself records for every scrape.
   */
  private static final Set<String> NOT_IN_A_HEALTHY_SCRAPE = Set.of("kv2pg_retries_total", "up");
  /** Words of OPERATIONS.md that start like a metric but are schema names of the demo and the bench. */
  private static final Set<String> SCHEMAS = Set.of("kv2pg_demo", "kv2pg_bench");

  private static final Set<String> PROMQL_WORDS = Set.of("and", "or", "unless", "bool", "offset", "by", "without",
      "on", "ignoring", "group_left", "group_right", "inf", "nan");
  private static final Pattern STRING = Pattern.compile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'");
  private static final Pattern MATCHERS = Pattern.compile("\\{[^}]*}");
  private static final Pattern RANGE = Pattern.compile("\\[[^]]*]");
  private static final Pattern GROUPING =
      Pattern.compile("\\b(?:by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)");
  private static final Pattern VARIABLE = Pattern.compile("\\$\\{?\\w+}?");
  private static final Pattern IDENTIFIER = Pattern.compile("(?<![\\w.:])([a-zA-Z_:][\\w:]*+)(?!\\s*\\()");
  private static final Pattern DOC_METRIC = Pattern.compile("\\bkv2pg_[a-z0-9_]+");

  @Test
  void theExtractorFindsMetricNamesAndNothingElse() {
    assertThat(metricNames("sum by (replication, mapping) (rate(kv2pg_rows_applied_total{op=\"upsert\","
        + " replication=~\"$replication\"}[$__rate_interval])) / on (replication) group_left kv2pg_commits_total"
        + " > 1e3 unless absent(up{job=\"kv2pg\"} offset 5m)"))
        .containsExactlyInAnyOrder("kv2pg_rows_applied_total", "kv2pg_commits_total", "up");
    assertThat(metricNames("label_values(kv2pg_state, replication)")).containsExactly("kv2pg_state");
  }

  @Test
  void theDashboardAndTheAlertRulesUseOnlyMetricsThatKv2pgServes() throws Exception {
    JsonNode dashboard = JSON.readTree(Files.readString(DASHBOARD));
    Map<String, Set<String>> dashboardNames = dashboardMetrics(dashboard);
    String operations = Files.readString(OPERATIONS);
    Map<String, Set<String>> ruleNames = ruleMetrics(operations);
    Set<String> docNames = new TreeSet<>();
    Matcher words = DOC_METRIC.matcher(operations);
    while (words.find()) {
      if (!SCHEMAS.contains(words.group())) {
        docNames.add(words.group());
      }
    }

    Scrape scrape = scrapeTheDemo();
    Set<String> served = new HashSet<>(scrape.samples);
    served.addAll(NOT_IN_A_HEALTHY_SCRAPE);
    dashboardNames.forEach((where, names) -> assertThat(names).as("metrics of %s in %s; the scrape has %s", where,
        DASHBOARD, new TreeSet<>(scrape.samples)).isSubsetOf(served));
    ruleNames.forEach((alert, names) -> assertThat(names).as("metrics of alert %s in %s; the scrape has %s", alert,
        OPERATIONS, new TreeSet<>(scrape.samples)).isSubsetOf(served));
    assertThat(docNames).as("kv2pg_ names in %s; the scrape has %s", OPERATIONS, new TreeSet<>(scrape.samples))
        .isSubsetOf(served);

    Set<String> used = new HashSet<>();
    dashboardNames.values().forEach(used::addAll);
    for (String family : scrape.kv2pgFamilies) {
      assertThat(used).as("the dashboard shows kv2pg's metric family %s", family)
          .anyMatch(name -> name.equals(family) || name.startsWith(family + "_"));
    }
    assertThat(used).as("the retries panel").contains("kv2pg_retries_total");

    // The example is of a healthy run, which leaves waiting_for out; the field table lists it.
    Set<String> documented = fieldNames(healthExample(operations));
    documented.add("waiting_for");
    Set<String> answered = fieldNames(scrape.health);
    answered.add("waiting_for");
    assertThat(documented).as("the /health example of %s against %s", OPERATIONS, scrape.health)
        .isEqualTo(answered);
    for (String field : answered) {
      assertThat(operations).as("the /health field table lists %s", field).contains("| `" + field + "` |");
    }
  }

  @Test
  void theDashboardIsImportable() throws IOException {
    JsonNode dashboard = JSON.readTree(Files.readString(DASHBOARD));
    assertThat(dashboard.path("schemaVersion").asInt()).isGreaterThanOrEqualTo(36);
    assertThat(dashboard.path("uid").asText()).isNotBlank();
    assertThat(dashboard.path("title").asText()).isNotBlank();
    JsonNode datasource = variable(dashboard, "datasource");
    assertThat(datasource.path("type").asText()).isEqualTo("datasource");
    assertThat(datasource.path("query").asText()).isEqualTo("prometheus");
    JsonNode replication = variable(dashboard, "replication");
    assertThat(replication.path("query").path("query").asText()).isEqualTo("label_values(kv2pg_state, replication)");
    assertThat(replication.path("datasource").path("uid").asText()).isEqualTo("${datasource}");
    Set<Integer> ids = new HashSet<>();
    for (JsonNode panel : panels(dashboard)) {
      assertThat(ids.add(panel.path("id").asInt())).as("panel id %s unique", panel.path("id")).isTrue();
      assertThat(panel.path("gridPos").path("w").asInt()).as(panel.path("title").asText()).isPositive();
      assertThat(panel.path("datasource").path("uid").asText()).as(panel.path("title").asText())
          .isEqualTo("${datasource}");
      assertThat(panel.path("targets")).as(panel.path("title").asText()).isNotEmpty();
      for (JsonNode target : panel.path("targets")) {
        assertThat(target.path("expr").asText()).as(panel.path("title").asText())
            .contains("replication=~\"$replication\"");
      }
    }
    assertThat(ids).hasSizeGreaterThanOrEqualTo(11);
  }

  // ---------------------------------------------------------------- the documents

  /** Metric names per panel (and the variables), from every {@code expr} and variable query. */
  private static Map<String, Set<String>> dashboardMetrics(JsonNode dashboard) {
    Map<String, Set<String>> names = new LinkedHashMap<>();
    for (JsonNode panel : panels(dashboard)) {
      Set<String> panelNames = new TreeSet<>();
      for (JsonNode target : panel.path("targets")) {
        String expr = target.path("expr").asText();
        Set<String> found = metricNames(expr);
        assertThat(found).as("a metric in the expr '%s' of panel '%s'", expr, panel.path("title").asText())
            .isNotEmpty();
        panelNames.addAll(found);
      }
      names.put("panel '" + panel.path("title").asText() + "'", panelNames);
    }
    for (JsonNode variable : dashboard.path("templating").path("list")) {
      JsonNode query = variable.path("query");
      String text = query.isObject() ? query.path("query").asText() : query.asText();
      if (variable.path("type").asText().equals("query")) {
        names.put("variable '" + variable.path("name").asText() + "'", metricNames(text));
      }
    }
    return names;
  }

  /** The alert rules of OPERATIONS.md (its YAML block that holds {@code groups:}), by alert. */
  @SuppressWarnings("unchecked")
  private static Map<String, Set<String>> ruleMetrics(String operations) {
    String block = null;
    Matcher blocks = Pattern.compile("(?ms)^```yaml\\n(.*?)^```").matcher(operations);
    while (blocks.find()) {
      if (blocks.group(1).startsWith("groups:")) {
        block = blocks.group(1);
      }
    }
    assertThat(block).as("a ```yaml block starting with groups: in %s", OPERATIONS).isNotNull();
    Map<String, Object> rules = new Yaml().load(block);
    Map<String, Set<String>> names = new LinkedHashMap<>();
    for (Map<String, Object> group : (List<Map<String, Object>>) rules.get("groups")) {
      for (Map<String, Object> rule : (List<Map<String, Object>>) group.get("rules")) {
        String alert = (String) rule.get("alert");
        assertThat(alert).as("rule %s", rule).isNotBlank();
        assertThat(rule).as(alert).containsKeys("expr", "labels", "annotations");
        assertThat((Map<String, Object>) rule.get("labels")).as(alert).containsKey("severity");
        Set<String> found = metricNames((String) rule.get("expr"));
        assertThat(found).as("a metric in alert %s", alert).isNotEmpty();
        names.put(alert, found);
      }
    }
    assertThat(names.keySet()).contains("Kv2pgLagHigh", "Kv2pgStalled", "Kv2pgRetrying", "Kv2pgDeadLetters",
        "Kv2pgFailed", "Kv2pgUnhealthy", "Kv2pgNoScrape");
    return names;
  }

  /** The one-line JSON example of {@code /health} in OPERATIONS.md. */
  private static JsonNode healthExample(String operations) throws IOException {
    Matcher json = Pattern.compile("(?ms)^```json\\n(\\{.*?})\\n```").matcher(operations);
    while (json.find()) {
      if (json.group(1).contains("\"healthy\"")) {
        return JSON.readTree(json.group(1));
      }
    }
    throw new AssertionError("no ```json block with \"healthy\" in " + OPERATIONS);
  }

  /**
   * The metric names a PromQL expression selects: what is left once strings, label matchers,
   * ranges, grouping clauses, Grafana variables, function names and keywords are taken out.
   */
  static Set<String> metricNames(String expr) {
    String rest = STRING.matcher(expr).replaceAll("\"\"");
    rest = MATCHERS.matcher(rest).replaceAll(" ");
    rest = RANGE.matcher(rest).replaceAll(" ");
    rest = GROUPING.matcher(rest).replaceAll(" ");
    rest = VARIABLE.matcher(rest).replaceAll(" ");
    Set<String> names = new TreeSet<>();
    Matcher identifiers = IDENTIFIER.matcher(rest);
    while (identifiers.find()) {
      String word = identifiers.group(1);
      if (!PROMQL_WORDS.contains(word)) {
        names.add(word);
      }
    }
    // label_values(metric, label): the label is an argument, not a metric.
    Matcher labelValues = Pattern.compile("label_values\\(\\s*([\\w:]+)\\s*,\\s*(\\w+)\\s*\\)").matcher(rest);
    while (labelValues.find()) {
      names.remove(labelValues.group(2));
    }
    return names;
  }

  private static List<JsonNode> panels(JsonNode dashboard) {
    List<JsonNode> all = new ArrayList<>();
    for (JsonNode panel : dashboard.path("panels")) {
      if (panel.path("type").asText().equals("row")) {
        panel.path("panels").forEach(all::add);
      } else {
        all.add(panel);
      }
    }
    return all;
  }

  private static JsonNode variable(JsonNode dashboard, String name) {
    for (JsonNode variable : dashboard.path("templating").path("list")) {
      if (variable.path("name").asText().equals(name)) {
        return variable;
      }
    }
    throw new AssertionError("no template variable " + name + " in " + DASHBOARD);
  }

  private static Set<String> fieldNames(JsonNode node) {
    Set<String> names = new TreeSet<>();
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      names.add(it.next());
    }
    return names;
  }

  // ---------------------------------------------------------------- the scrape

  /**
   * A scrape taken while the demo streams: every sample name, the kv2pg families of its {@code
   * # TYPE} lines, and {@code /health}'s body at the same moment.
   */
  private record Scrape(Set<String> samples, Set<String> kv2pgFamilies, JsonNode health) {}

  private static Scrape scrapeTheDemo() throws Exception {
    int port = LocalHttp.freePort();
    CompletableFuture<CliRun.Result> demo = CompletableFuture.supplyAsync(() -> CliRun.run("demo", "--duration",
        "5s", "--rate", "100", "--orders", "500", "--metrics-port", String.valueOf(port)));
    Scrape scrape = null;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (scrape == null && System.nanoTime() < deadline && !demo.isDone()) {
      HttpResponse<String> metrics = LocalHttp.get(port, "/metrics");
      if (metrics != null && metrics.statusCode() == 200
          && metrics.body().contains("kv2pg_state{replication=\"kv2pg-demo\",state=\"streaming\"} 1.0")
          && metrics.body().matches("(?s).*\\nkv2pg_commits_total\\{[^}]*} [1-9].*")) {
        HttpResponse<String> health = LocalHttp.get(port, "/health");
        if (health != null && health.statusCode() == 200) {
          scrape = parse(metrics.body(), JSON.readTree(health.body()));
        }
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
    }
    CliRun.Result result = demo.get(120, TimeUnit.SECONDS);
    assertThat(result.exitCode()).as(result.toString()).isZero();
    assertThat(scrape).as("a scrape while the demo streamed; demo output:%n%s", result).isNotNull();
    return scrape;
  }

  private static Scrape parse(String body, JsonNode health) {
    Set<String> samples = new TreeSet<>();
    Set<String> families = new TreeSet<>();
    for (String line : body.split("\n")) {
      if (line.startsWith("# TYPE kv2pg_")) {
        families.add(line.split(" ")[2]);
      } else if (!line.isBlank() && !line.startsWith("#")) {
        samples.add(line.split("[{ ]", 2)[0]);
      }
    }
    assertThat(samples).as("the scrape").contains("kv2pg_lag_seconds", "jvm_memory_used_bytes");
    return new Scrape(samples, families, health);
  }
}
