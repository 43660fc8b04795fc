package io.kv2pg.bench;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;

/**
 * raw-copy: one COPY of rows encoded before the clock starts, straight into an empty table: the
 * physical limit of an initial copy.
 */
final class RawCopy {
  private RawCopy() {}

  /** Encodes ids {@code from..to-1} at version 0 as COPY text, in chunks of about 256 KiB. */
  static List<byte[]> encode(Rows.Kind kind, long from, long to) {
    List<byte[]> chunks = new ArrayList<>();
    StringBuilder buffer = new StringBuilder(300_000);
    for (long id = from; id < to; id++) {
      Rows.appendCopyRow(buffer, kind, id, 0);
      if (buffer.length() >= 256 * 1024) {
        chunks.add(buffer.toString().getBytes(StandardCharsets.UTF_8));
        buffer.setLength(0);
      }
    }
    if (buffer.length() > 0) {
      chunks.add(buffer.toString().getBytes(StandardCharsets.UTF_8));
    }
    return chunks;
  }

  /** Copies the chunks into the table in one COPY (autocommit). */
  static void copy(Connection connection, Rows.Kind kind, String table, List<byte[]> chunks) throws SQLException {
    CopyIn copy = connection.unwrap(PGConnection.class).getCopyAPI()
        .copyIn("copy " + Rows.qualified(table) + " (" + kind.columns() + ") from stdin");
    try {
      for (byte[] chunk : chunks) {
        copy.writeToCopy(chunk, 0, chunk.length);
      }
      copy.endCopy();
    } finally {
      if (copy.isActive()) {
        copy.cancelCopy();
      }
    }
  }
}
