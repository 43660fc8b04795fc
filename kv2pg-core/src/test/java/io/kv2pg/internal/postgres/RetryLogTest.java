package io.kv2pg.internal.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kv2pg.LogCapture;
import java.time.Duration;
import java.time.LocalTime;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A retry loop logs its first attempt, then at most once per interval with the count of attempts
 * (a minute in production, 1.5 s here), against a server that does not answer.
 */
class RetryLogTest {
  private static final Duration INTERVAL = Duration.ofMillis(1_500);

  @Test
  void aRetryLoopLogsItsFirstAttemptThenAtMostOncePerInterval() throws Exception {
    AtomicInteger retried = new AtomicInteger();
    PostgresConnector nowhere = PostgresConnector.forUrl("jdbc:postgresql://127.0.0.1:1/nowhere?user=x",
        "kv2pg-retrylog");
    List<String> lines;
    try (LogCapture log = new LogCapture()) {
      PostgresSession session = new PostgresSession(nowhere, new CheckpointStore("retrylog"), "retrylog",
          () -> retried.get() >= 7, error -> retried.incrementAndGet(), INTERVAL);
      assertThatThrownBy(() -> session.run((connection, retry) -> null))
          .isInstanceOf(PostgresSession.Abandoned.class);
      lines = log.text().lines().filter(line -> line.contains("WARN") && line.contains("kv2pg[retrylog]")).toList();
    }
    // Seven attempts wait 50-100, 100-200, ... 3,200-6,400 ms: at least 6.3 s in all.
    assertThat(lines.get(0)).contains("Postgres unreachable").contains("retrying in 100 ms");
    assertThat(lines).as("%s", lines).hasSizeGreaterThanOrEqualTo(3).hasSizeLessThan(7);
    for (int i = 1; i < lines.size(); i++) {
      assertThat(lines.get(i)).containsPattern("still retrying after \\d+ attempts: Postgres unreachable");
      long millis = Duration.between(time(lines.get(i - 1)), time(lines.get(i))).toMillis();
      assertThat(millis).as("between %s%nand %s", lines.get(i - 1), lines.get(i))
          .isGreaterThanOrEqualTo(INTERVAL.toMillis());
    }
  }

  /** The time slf4j-simple writes first (HH:mm:ss.SSS). */
  private static LocalTime time(String line) {
    return LocalTime.parse(line.substring(0, 12));
  }
}
