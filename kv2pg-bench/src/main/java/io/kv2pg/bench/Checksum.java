package io.kv2pg.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.List;

/**
 * An order-independent fingerprint of a set of rows, computed the same way from the store's
 * entries (or the generator's model) and from a table, so that every run proves its table holds
 * exactly what the store holds: count, sums of every column, and that {@code kv_key} is the id.
 */
final class Checksum {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Rows.Kind kind;
  private final long[] sums = new long[8];

  Checksum(Rows.Kind kind) {
    this.kind = kind;
  }

  private Checksum(Rows.Kind kind, long[] sums) {
    this(kind);
    System.arraycopy(sums, 0, this.sums, 0, sums.length);
  }

  /** Adds the row of a store entry. */
  void addEntry(long id, byte[] value) {
    if (kind == Rows.Kind.NARROW) {
      addNarrow(id, ByteBuffer.wrap(value).getLong());
    } else {
      try {
        JsonNode node = JSON.readTree(value);
        addWide(id, new Rows.Wide(node.get("customer").asText(), node.get("qty").intValue(),
            Math.round(node.get("price").doubleValue() * 100), node.get("active").booleanValue(),
            node.get("ts").longValue()));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  /** Adds the row of entry {@code id} at {@code version}. */
  void addModel(long id, long version) {
    if (kind == Rows.Kind.NARROW) {
      addNarrow(id, Rows.narrow(id, version));
    } else {
      addWide(id, Rows.wide(id, version));
    }
  }

  private void addNarrow(long id, long v) {
    sums[0]++;
    sums[1] += id;
    sums[2] += v;
    sums[3] += (id % 1000) * (v % 1000);
  }

  private void addWide(long id, Rows.Wide w) {
    sums[0]++;
    sums[1] += id;
    sums[2] += w.qty();
    sums[3] += w.ts() % 1_000_000;
    sums[4] += w.customer().length();
    sums[5] += w.active() ? 1 : 0;
    sums[6] += w.cents();
  }

  static Checksum ofTable(Pg pg, Rows.Kind kind, String table) throws SQLException {
    String sql = kind == Rows.Kind.NARROW
        ? "select count(*), coalesce(sum(id), 0), coalesce(sum(v), 0),"
            + " coalesce(sum((id % 1000) * (v % 1000)), 0), 0, 0, 0,"
            + " count(*) filter (where kv_key is distinct from int8send(id)) from " + Rows.qualified(table)
        : "select count(*), coalesce(sum(id), 0), coalesce(sum(qty), 0), coalesce(sum(ts % 1000000), 0),"
            + " coalesce(sum(length(customer)), 0), count(*) filter (where active),"
            + " coalesce(sum(round(price * 100)::bigint), 0),"
            + " count(*) filter (where kv_key is distinct from int8send(id)) from " + Rows.qualified(table);
    List<Object> row = pg.row(sql);
    long[] sums = new long[8];
    for (int i = 0; i < 8; i++) {
      sums[i] = ((Number) row.get(i)).longValue();
    }
    return new Checksum(kind, sums);
  }

  long count() {
    return sums[0];
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Checksum that && kind == that.kind && Arrays.equals(sums, that.sums);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(sums);
  }

  @Override
  public String toString() {
    return kind + Arrays.toString(sums);
  }
}
