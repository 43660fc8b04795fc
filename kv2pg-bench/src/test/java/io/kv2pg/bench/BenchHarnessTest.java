package io.kv2pg.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The harness starts and prints a RESULT line for every scenario and system, at a tiny scale (no
 * figure is checked for speed: only that each was measured and each table matched its store).
 */
class BenchHarnessTest {
  @TempDir Path dir;

  static Set<String> expectedFigures() {
    Set<String> expected = new HashSet<>();
    for (String copy : List.of("copy-narrow", "copy-wide")) {
      for (String system : List.of("kv2pg", "raw-copy", "best-upsert", "crate-style", "naive-jdbc")) {
        expected.add(copy + " " + system + " rows/s");
      }
    }
    for (String system : List.of("kv2pg", "best-upsert", "crate-style", "naive-jdbc")) {
      expected.add("stream " + system + " changes/s");
    }
    expected.add("fan-in-4 kv2pg changes/s");
    for (String lag : List.of("lag-1k", "lag-5k", "lag-20k")) {
      for (String system : List.of("kv2pg", "crate-style", "naive-jdbc")) {
        for (String unit : List.of("ms-p50", "ms-p99", "ms-max")) {
          expected.add(lag + " " + system + " " + unit);
        }
      }
    }
    expected.add("copy-10m kv2pg MiB-peak-heap");
    expected.add("copy-50m kv2pg MiB-peak-heap");
    return expected;
  }

  @Test
  void tinyRunPrintsAResultForEveryScenarioAndSystem() throws Exception {
    List<String> args = new ArrayList<>(List.of("--tiny", "--work-dir", dir.resolve("stores").toString()));
    String url = System.getenv("KV2PG_TEST_JDBC_URL");
    if (url != null && !url.isBlank()) {
      args.addAll(List.of("--postgres", url));
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int exit;
    try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
      exit = BenchMain.run(args.toArray(String[]::new), out);
    }
    String output = bytes.toString(StandardCharsets.UTF_8);
    assertThat(exit).as(output).isZero();
    assertThat(output).as(output).doesNotContain("WARNING").doesNotContain("MISMATCH");

    Map<String, Double> figures = new HashMap<>();
    for (String line : output.split("\n")) {
      if (line.startsWith("RESULT ")) {
        String[] f = line.trim().split(" ");
        assertThat(f).as(line).hasSize(5);
        assertThat(figures.put(f[1] + " " + f[2] + " " + f[4], Double.parseDouble(f[3]))).as(line).isNull();
      }
    }
    assertThat(figures.keySet()).as(output).containsExactlyInAnyOrderElementsOf(expectedFigures());
    assertThat(figures.values()).as(output).allSatisfy(v -> assertThat(v).isFinite().isPositive());
    assertThat(output).contains("== Ratios and targets ==", "TARGET copy-narrow-vs-raw-copy",
        "TARGET stream-vs-best-upsert", "RATIO fan-in-4 kv2pg/stream-kv2pg", "TARGET lag-5k-p99",
        "TARGET lag-20k-p99", "TARGET copy-10m-heap", "TARGET copy-50m-heap", "RATIO copy-50m/copy-10m peak-heap");
    // The profile behind the lag and the copies: kv2pg's commit durations, and the JVM's native
    // threads' CPU (the JIT compiler at least, which every run uses) apart from its Java threads'.
    assertThat(output).containsPattern("lag-5k +kv2pg .* ms-p99 .*transactions, p50 [0-9.]+ ms, p99 [0-9.]+ ms,"
        + " p99.9 [0-9.]+ ms, max [0-9.]+ ms")
        .containsPattern("(?m)^copy-wide +kv2pg +.*\\bJIT [0-9.]+");
  }

  @Test
  void reportTakesMediansAndDrawsTheChart() throws Exception {
    Path[] runs = new Path[3];
    double[] kv2pg = {100, 300, 200};
    for (int i = 0; i < 3; i++) {
      runs[i] = dir.resolve("run" + i + ".txt");
      Files.writeString(runs[i], "# noise\nRESULT copy-narrow kv2pg " + kv2pg[i] + " rows/s\n"
          + "RESULT copy-narrow raw-copy 250 rows/s\nRESULT lag-5k kv2pg " + (i + 1) + " ms-p99\n"
          + "RESULT lag-5k kv2pg 0.5 ms-p50\n");
    }
    Path png = dir.resolve("chart.png");
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
      assertThat(BenchMain.run(new String[] {"report", "--png", png.toString(), runs[0].toString(),
          runs[1].toString(), runs[2].toString()}, out)).isZero();
    }
    String report = bytes.toString(StandardCharsets.UTF_8);
    assertThat(report).contains("| copy-narrow | kv2pg | 200 | rows/s | 100, 300, 200 |")
        .contains("| lag-5k | kv2pg | 2 | ms-p99 | 1, 2, 3 |")
        // ratios are taken within each run (0.4, 1.2, 0.8), then their median
        .contains("| copy-narrow-vs-raw-copy | 0.80 | 0.40, 1.20, 0.80 | >=0.9 | MISSED |")
        .contains("| lag-5k-p99 | 2.00 | 1.00, 2.00, 3.00 | <=10 | MET |");
    BufferedImage image = ImageIO.read(png.toFile());
    assertThat(image.getWidth()).isEqualTo(1500);
    assertThat(image.getHeight()).isEqualTo(620);
  }
}
