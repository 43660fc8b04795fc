package io.kv2pg.internal.table;

import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.util.Arrays;
import org.postgresql.copy.CopyIn;

/**
 * Builds COPY text-format rows straight into UTF-8 bytes and hands them to a {@link CopyIn} in
 * large writes. Integers, {@code bytea} and strings are written without intermediate strings,
 * because on an initial copy this runs once per field of every row. Not thread-safe.
 */
public final class CopyRowEncoder {
  /** Where the encoded bytes go, such as {@link CopyIn#writeToCopy}. */
  @FunctionalInterface
  public interface Output {
    /** Takes {@code length} bytes of {@code bytes} from {@code offset}; must not keep the array. */
    void write(byte[] bytes, int offset, int length) throws SQLException;
  }

  private static final byte[] HEX_DIGITS = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
  private static final int FLUSH_BYTES = 1 << 16;

  private final Output output;
  private byte[] buffer = new byte[FLUSH_BYTES + 1024];
  private int length;
  /** Where the current row starts in the buffer: rows are flushed whole, only at their end. */
  private int rowStart;
  private boolean rowStarted;

  /** Creates an encoder writing to {@code output}, which stays the caller's to end or cancel. */
  public CopyRowEncoder(Output output) {
    this.output = output;
  }

  /**
   * Appends the next field of the current row: {@code null}, or a value in the text form {@link
   * PgText#format} gives it.
   */
  public void field(Object value) {
    if (rowStarted) {
      put((byte) '\t');
    }
    rowStarted = true;
    if (value == null) {
      put((byte) '\\');
      put((byte) 'N');
    } else if (value instanceof Long number) {
      putLong(number);
    } else if (value instanceof Integer number) {
      putLong(number);
    } else if (value instanceof byte[] bytes) {
      putBytea(bytes);
    } else {
      putText(PgText.format(value));
    }
  }

  /** Appends the next field of the current row: an integer. */
  public void field(long value) {
    if (rowStarted) {
      put((byte) '\t');
    }
    rowStarted = true;
    putLong(value);
  }

  /** Drops the fields of the current row written so far. */
  public void discardRow() {
    length = rowStart;
    rowStarted = false;
  }

  /** Ends the current row, and writes the buffer to the COPY once it is large. */
  public void endRow() throws SQLException {
    put((byte) '\n');
    rowStarted = false;
    rowStart = length;
    if (length >= FLUSH_BYTES) {
      flush();
    }
  }

  /** Writes what is buffered to the COPY. */
  public void flush() throws SQLException {
    if (length > 0) {
      output.write(buffer, 0, length);
      length = 0;
      rowStart = 0;
    }
  }

  private void putLong(long value) {
    if (value == Long.MIN_VALUE) {
      putText(Long.toString(value));
      return;
    }
    ensure(20);
    if (value < 0) {
      buffer[length++] = '-';
      value = -value;
    }
    int start = length;
    do {
      buffer[length++] = (byte) ('0' + value % 10);
      value /= 10;
    } while (value != 0);
    for (int low = start, high = length - 1; low < high; low++, high--) {
      byte digit = buffer[low];
      buffer[low] = buffer[high];
      buffer[high] = digit;
    }
  }

  private void putBytea(byte[] bytes) {
    ensure(3 + 2 * bytes.length);
    buffer[length++] = '\\'; // bytea's "\x" prefix, with its backslash escaped for COPY
    buffer[length++] = '\\';
    buffer[length++] = 'x';
    for (byte b : bytes) {
      buffer[length++] = HEX_DIGITS[(b >> 4) & 0xf];
      buffer[length++] = HEX_DIGITS[b & 0xf];
    }
  }

  private void putText(String text) {
    ensure(text.length());
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c < 0x80) {
        switch (c) {
          case '\\' -> putEscape('\\');
          case '\t' -> putEscape('t');
          case '\n' -> putEscape('n');
          case '\r' -> putEscape('r');
          default -> put((byte) c);
        }
      } else if (c < 0x800) {
        ensure(2);
        buffer[length++] = (byte) (0xc0 | (c >> 6));
        buffer[length++] = (byte) (0x80 | (c & 0x3f));
      } else if (Character.isHighSurrogate(c) && i + 1 < text.length()
          && Character.isLowSurrogate(text.charAt(i + 1))) {
        int codePoint = Character.toCodePoint(c, text.charAt(++i));
        ensure(4);
        buffer[length++] = (byte) (0xf0 | (codePoint >> 18));
        buffer[length++] = (byte) (0x80 | ((codePoint >> 12) & 0x3f));
        buffer[length++] = (byte) (0x80 | ((codePoint >> 6) & 0x3f));
        buffer[length++] = (byte) (0x80 | (codePoint & 0x3f));
      } else if (Character.isSurrogate(c)) {
        put((byte) '?'); // A lone surrogate, as String.getBytes(UTF_8) replaces it.
      } else {
        ensure(3);
        buffer[length++] = (byte) (0xe0 | (c >> 12));
        buffer[length++] = (byte) (0x80 | ((c >> 6) & 0x3f));
        buffer[length++] = (byte) (0x80 | (c & 0x3f));
      }
    }
  }

  private void putEscape(char escaped) {
    put((byte) '\\');
    put((byte) escaped);
  }

  private void put(byte b) {
    ensure(1);
    buffer[length++] = b;
  }

  private void ensure(int more) {
    if (length + more > buffer.length) {
      buffer = Arrays.copyOf(buffer, Math.max(buffer.length * 2, length + more));
    }
  }
}
