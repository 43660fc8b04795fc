package io.kv2pg;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * Captures what slf4j-simple logs (to {@code System.err}) while open, still passing it through.
 * Not for tests that run in parallel with others that log.
 */
public final class LogCapture implements AutoCloseable {
  private final PrintStream original = System.err;
  private final ByteArrayOutputStream captured = new ByteArrayOutputStream();

  public LogCapture() {
    System.setErr(new PrintStream(new TeeStream(original, captured), true, StandardCharsets.UTF_8));
  }

  /** Returns what was logged so far. */
  public String text() {
    synchronized (captured) {
      return captured.toString(StandardCharsets.UTF_8);
    }
  }

  @Override
  public void close() {
    System.setErr(original);
  }

  /** Writes to two streams. */
  private static final class TeeStream extends OutputStream {
    private final OutputStream first;
    private final ByteArrayOutputStream second;

    TeeStream(OutputStream first, ByteArrayOutputStream second) {
      this.first = first;
      this.second = second;
    }

    @Override
    public void write(int b) throws IOException {
      synchronized (second) {
        first.write(b);
        second.write(b);
      }
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      synchronized (second) {
        first.write(b, off, len);
        second.write(b, off, len);
      }
    }
  }
}
