package io.kv2pg.bench;

import java.nio.charset.StandardCharsets;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * best-upsert: the limit for streaming upserts. The changes are coalesced per key, sorted by key
 * (Postgres upserts rows in index order about a third faster) and encoded before the clock
 * starts, in chunks of {@value #CHUNK} changes; each chunk is one transaction:
 * {@code DELETE … WHERE id = ANY(array)}, COPY into a temporary staging table, one {@code INSERT …
 * SELECT … ON CONFLICT DO UPDATE}.
 */
final class BestUpsert {
  static final int CHUNK = 50_000;

  /** One transaction's ready work. */
  record Chunk(int changes, byte[] upserts, long[] deletes) {}

  private BestUpsert() {}

  /** Coalesces and encodes the first {@code applied[t]} ops of each stream, interleaved round-robin. */
  static List<Chunk> prepare(Rows.Kind kind, List<Ops> streams, int[] applied) {
    List<Chunk> chunks = new ArrayList<>();
    Map<Long, long[]> latest = new LinkedHashMap<>(); // id -> {version, isDelete}
    int changes = 0;
    int max = 0;
    for (int n : applied) {
      max = Math.max(max, n);
    }
    for (int i = 0; i < max; i++) {
      for (int t = 0; t < streams.size(); t++) {
        if (i >= applied[t]) {
          continue;
        }
        Ops ops = streams.get(t);
        latest.put(ops.id[i], new long[] {ops.version[i], ops.isDelete(i) ? 1 : 0});
        if (++changes == CHUNK) {
          chunks.add(encode(kind, latest, changes));
          latest.clear();
          changes = 0;
        }
      }
    }
    if (changes > 0) {
      chunks.add(encode(kind, latest, changes));
    }
    return chunks;
  }

  /** Encodes ids {@code from..to-1} at version 0 (an initial copy through upserts). */
  static List<Chunk> prepareCopy(Rows.Kind kind, long from, long to) {
    List<Chunk> chunks = new ArrayList<>();
    for (long start = from; start < to; start += CHUNK) {
      long end = Math.min(to, start + CHUNK);
      StringBuilder buffer = new StringBuilder();
      for (long id = start; id < end; id++) {
        Rows.appendCopyRow(buffer, kind, id, 0);
      }
      chunks.add(new Chunk((int) (end - start), buffer.toString().getBytes(StandardCharsets.UTF_8), new long[0]));
    }
    return chunks;
  }

  private static Chunk encode(Rows.Kind kind, Map<Long, long[]> latest, int changes) {
    StringBuilder buffer = new StringBuilder();
    List<Long> deletes = new ArrayList<>();
    for (Map.Entry<Long, long[]> entry : new TreeMap<>(latest).entrySet()) {
      if (entry.getValue()[1] == 1) {
        deletes.add(entry.getKey());
      } else {
        Rows.appendCopyRow(buffer, kind, entry.getKey(), entry.getValue()[0]);
      }
    }
    return new Chunk(changes, buffer.toString().getBytes(StandardCharsets.UTF_8),
        deletes.stream().mapToLong(Long::longValue).toArray());
  }

  /** Applies the chunks, one transaction each. */
  static void apply(Connection connection, Rows.Kind kind, String table, List<Chunk> chunks) throws SQLException {
    connection.setAutoCommit(false);
    String stage = "best_upsert_stage";
    try (Statement statement = connection.createStatement()) {
      statement.execute("create temp table if not exists " + stage + " (like " + Rows.qualified(table)
          + " including defaults) on commit delete rows");
    }
    connection.commit();
    String merge = "insert into " + Rows.qualified(table) + " (" + kind.columns() + ") select "
        + kind.columns() + " from " + stage + " on conflict (id) do update set " + kind.updateSet();
    try (PreparedStatement delete = connection.prepareStatement(
            "delete from " + Rows.qualified(table) + " where id = any(?)");
        Statement statement = connection.createStatement()) {
      for (Chunk chunk : chunks) {
        if (chunk.deletes().length > 0) {
          Long[] ids = new Long[chunk.deletes().length];
          for (int i = 0; i < ids.length; i++) {
            ids[i] = chunk.deletes()[i];
          }
          Array array = connection.createArrayOf("bigint", ids);
          delete.setArray(1, array);
          delete.executeUpdate();
        }
        if (chunk.upserts().length > 0) {
          org.postgresql.copy.CopyIn copy = connection.unwrap(org.postgresql.PGConnection.class).getCopyAPI()
              .copyIn("copy " + stage + " (" + kind.columns() + ") from stdin");
          copy.writeToCopy(chunk.upserts(), 0, chunk.upserts().length);
          copy.endCopy();
          statement.executeUpdate(merge);
        }
        connection.commit();
      }
    }
  }
}
