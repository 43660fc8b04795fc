package io.kv2pg.bench;

import io.kv2pg.Decoders;
import io.kv2pg.TreeMapping;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.rocksdb.ColumnFamilyHandle;

/**
 * The benchmark's entries and their rows.
 *
 * <ul>
 *   <li>narrow: key = id as 8 big-endian bytes, value = an int64 as 8 big-endian bytes; table
 *       {@code (id bigint, v bigint, kv_key bytea)}.
 *   <li>wide: same key, value = a JSON object of about 150 bytes; table {@code (id bigint, customer
 *       text, qty integer, price double precision, active boolean, ts bigint, kv_key bytea)}: five
 *       typed columns decoded from JSON, the {@code note} field left out.
 * </ul>
 *
 * <p>Every system writes the same table definition, the one kv2pg generates for the declared
 * mapping (primary key on {@code id}, {@code kv_key} unique).
 */
final class Rows {
  static final String SCHEMA = "kv2pg_bench";
  private static final HexFormat HEX = HexFormat.of();
  private static final String NOTE = "lorem ipsum dolor sit amet, consectetur adipiscing elit";

  private Rows() {}

  enum Kind {
    NARROW, WIDE;

    /** The table's DDL, identical to what kv2pg generates for {@link #mapping}. */
    String createSql(String table) {
      String columns = this == NARROW
          ? "\"id\" bigint not null, \"v\" bigint, "
          : "\"id\" bigint not null, \"customer\" text, \"qty\" integer, \"price\" double precision,"
              + " \"active\" boolean, \"ts\" bigint, ";
      return "create table " + qualified(table) + " (" + columns
          + "\"kv_key\" bytea not null unique, primary key (\"id\"))";
    }

    String columns() {
      return this == NARROW ? "id, v, kv_key" : "id, customer, qty, price, active, ts, kv_key";
    }

    String updateSet() {
      return this == NARROW
          ? "v = excluded.v, kv_key = excluded.kv_key"
          : "customer = excluded.customer, qty = excluded.qty, price = excluded.price,"
              + " active = excluded.active, ts = excluded.ts, kv_key = excluded.kv_key";
    }

    /** Postgres array types of the columns, for {@code unnest}. */
    String[] arrayTypes() {
      return this == NARROW
          ? new String[] {"bigint[]", "bigint[]", "bytea[]"}
          : new String[] {"bigint[]", "text[]", "integer[]", "double precision[]", "boolean[]",
              "bigint[]", "bytea[]"};
    }

    /** kv2pg's declared mapping of the same table. */
    TreeMapping mapping(ColumnFamilyHandle family, String table) {
      return builder(family, table).build();
    }

    /**
     * kv2pg's declared mapping of the same table for one of several stores writing it: the store
     * holds the keys in {@code [from, until)} ({@code until} {@code null}: to the end).
     */
    TreeMapping mapping(ColumnFamilyHandle family, String table, byte[] from, byte[] until) {
      return builder(family, table).keyRange(from, until).build();
    }

    private TreeMapping.Builder builder(ColumnFamilyHandle family, String table) {
      TreeMapping.Builder builder = TreeMapping.builder(family).table(SCHEMA + "." + table)
          .keyColumn("id", Decoders.int64());
      if (this == NARROW) {
        builder.valueColumn("v", Decoders.int64());
      } else {
        builder.valueColumn("customer", Decoders.jsonText("customer"))
            .valueColumn("qty", Decoders.jsonInt("qty"))
            .valueColumn("price", Decoders.jsonDouble("price"))
            .valueColumn("active", Decoders.jsonBoolean("active"))
            .valueColumn("ts", Decoders.jsonLong("ts"));
      }
      return builder;
    }

    /** The entry's value for a given id and version. */
    byte[] value(long id, long version) {
      return this == NARROW ? narrowValue(narrow(id, version)) : wideValue(id, version);
    }
  }

  static String qualified(String table) {
    return "\"" + SCHEMA + "\".\"" + table + "\"";
  }

  static byte[] key(long id) {
    return ByteBuffer.allocate(8).putLong(id).array();
  }

  static long id(byte[] key) {
    return ByteBuffer.wrap(key).getLong();
  }

  /** The narrow value of an id at a version: 30 bits, so that sums of millions fit a long. */
  static long narrow(long id, long version) {
    return ((id + 1) * 2654435761L + version * 40503L) & 0x3fff_ffffL;
  }

  static byte[] narrowValue(long v) {
    return ByteBuffer.allocate(8).putLong(v).array();
  }

  // ------------------------------------------------------------------ wide values

  /** The decoded fields of a wide value. */
  record Wide(String customer, int qty, long cents, boolean active, long ts) {
    double price() {
      return cents / 100.0;
    }
  }

  static Wide wide(long id, long version) {
    long h = (id + 1) * 0x9E3779B97F4A7C15L + version * 0xC2B2AE3D27D4EB4FL;
    h ^= h >>> 29;
    int qty = Math.floorMod(h, 1000);
    long cents = Math.floorMod(h >>> 10, 10_000_000L);
    boolean active = ((h >>> 40) & 1) == 0;
    long ts = 1_700_000_000_000L + Math.floorMod(h >>> 20, 100_000_000_000L);
    return new Wide(String.format("customer-%010d", Math.floorMod(id * 7 + version, 10_000_000_000L)),
        qty, cents, active, ts);
  }

  static byte[] wideValue(long id, long version) {
    Wide w = wide(id, version);
    String json = "{\"customer\":\"" + w.customer() + "\",\"qty\":" + w.qty() + ",\"price\":"
        + (w.cents() / 100) + "." + String.format("%02d", w.cents() % 100) + ",\"active\":"
        + w.active() + ",\"ts\":" + w.ts() + ",\"note\":\"" + NOTE + "\"}";
    return json.getBytes(StandardCharsets.UTF_8);
  }

  // ------------------------------------------------------------------ ready-encoded rows

  /** Appends the row in COPY text format, as kv2pg would send it. */
  static void appendCopyRow(StringBuilder out, Kind kind, long id, long version) {
    out.append(id).append('\t');
    if (kind == Kind.NARROW) {
      out.append(narrow(id, version)).append('\t');
    } else {
      Wide w = wide(id, version);
      out.append(w.customer()).append('\t').append(w.qty()).append('\t').append(w.price())
          .append('\t').append(w.active() ? 't' : 'f').append('\t').append(w.ts()).append('\t');
    }
    out.append("\\\\x").append(HEX.formatHex(key(id))).append('\n');
  }

  /** Returns the row's parameters for a statement of {@link Kind#columns()}. */
  static Object[] params(Kind kind, long id, long version) {
    if (kind == Kind.NARROW) {
      return new Object[] {id, narrow(id, version), key(id)};
    }
    Wide w = wide(id, version);
    return new Object[] {id, w.customer(), w.qty(), w.price(), w.active(), w.ts(), key(id)};
  }
}
