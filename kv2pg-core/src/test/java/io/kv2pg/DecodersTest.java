package io.kv2pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * Every {@link Decoders} factory through a real replication into Postgres (initial copy, streamed
 * upserts and deletes), and malformed input failing the replication with an error that names the
 * mapping, key, column and sequence.
 */
class DecodersTest {
  static final Duration WAIT = Duration.ofSeconds(60);
  static final HexFormat HEX = HexFormat.of();

  @TempDir Path dir;

  // ------------------------------------------------------------------ every decoder

  /** One store entry and the row its table must hold for it, in the table's select order. */
  record Entry(byte[] key, byte[] value, List<Object> row) {}

  /** A declared table under test: its mapping, the query that reads it back, and its entries. */
  record Table(String family, TreeMapping mapping, String select, List<Entry> entries) {}

  @Test
  void everyDecoderWritesTheDecodedValues() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data", "plain")) {
      ColumnFamilyHandle data = store.family("data");
      ColumnFamilyHandle plain = store.family("plain");
      List<Table> tables = List.of(
          atOffsets(data), wholeInts(data), wholeOrderedInts(data), texts(data), json(url, data),
          plain(plain), rawKeyOnly(data));

      // Even entries before start (initial copy, COPY path), odd ones after (streaming).
      for (Table table : tables) {
        for (int i = 0; i < table.entries().size(); i += 2) {
          store.db.put(store.family(table.family()), table.entries().get(i).key(), table.entries().get(i).value());
        }
      }
      Replication.Builder builder = Replication.builder().postgres(url).source(store.db).name("decoders");
      tables.forEach(table -> builder.tree(table.mapping()));
      try (RunningReplication running = builder.build().start()) {
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        for (Table table : tables) {
          assertThat(actual(url, table)).as(table.mapping().name() + " after the initial copy")
              .isEqualTo(expected(table, 0));
        }
        for (Table table : tables) {
          for (int i = 1; i < table.entries().size(); i += 2) {
            store.db.put(store.family(table.family()), table.entries().get(i).key(), table.entries().get(i).value());
          }
          store.db.delete(store.family(table.family()), table.entries().get(0).key());
        }
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertThat(running.status().failure()).isEmpty();
        for (Table table : tables) {
          List<List<Object>> expected = expected(table, -1);
          assertThat(expected.remove(table.entries().get(0).row())).isTrue(); // deleted above
          assertThat(actual(url, table)).as(table.mapping().name() + " after streaming").isEqualTo(expected);
        }
      }
    }
  }

  /** The table's rows as normalized Java values, in raw-key order. */
  static List<List<Object>> actual(String url, Table table) {
    List<List<Object>> rows = new ArrayList<>();
    for (List<Object> row : TestPostgres.query(url, table.select())) {
      rows.add(Arrays.asList(row.stream().map(DecodersTest::normalize).toArray()));
    }
    return rows;
  }

  /** The expected rows in raw-key order: those written before start (step 0) or all (-1). */
  static List<List<Object>> expected(Table table, int onlyEven) {
    List<Entry> entries = new ArrayList<>();
    for (int i = 0; i < table.entries().size(); i++) {
      if (onlyEven < 0 || i % 2 == 0) {
        entries.add(table.entries().get(i));
      }
    }
    entries.sort(Comparator.comparing(Entry::key, Arrays::compareUnsigned));
    List<List<Object>> rows = new ArrayList<>();
    entries.forEach(entry -> rows.add(entry.row()));
    return rows;
  }

  static Object normalize(Object value) {
    if (value instanceof BigDecimal decimal) {
      return decimal.stripTrailingZeros().toPlainString();
    }
    return value;
  }

  static byte[] concat(byte[]... parts) {
    ByteBuffer buffer = ByteBuffer.allocate(Arrays.stream(parts).mapToInt(part -> part.length).sum());
    for (byte[] part : parts) {
      buffer.put(part);
    }
    return buffer.array();
  }

  static byte[] utf8(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  static byte[] i32(int value) {
    return ByteBuffer.allocate(4).putInt(value).array();
  }

  static byte[] i64(long value) {
    return ByteBuffer.allocate(8).putLong(value).array();
  }

  static final int[] INTS = {Integer.MIN_VALUE, -1_000_000, -1, 0, 1, 42, Integer.MAX_VALUE};
  static final long[] LONGS = {Long.MIN_VALUE, -5_000_000_000L, -1, 0, 1, 1L << 40, Long.MAX_VALUE};

  /** int32At / int64At / int32OrderedAt / int64OrderedAt on key and value, and a custom decoder. */
  static Table atOffsets(ColumnFamilyHandle family) {
    TreeMapping mapping = TreeMapping.builder(family).prefix(utf8("i:")).table("ints")
        .keyColumn("k32", Decoders.int32OrderedAt(0))
        .keyColumn("k64", Decoders.int64OrderedAt(4))
        .valueColumn("v32", Decoders.int32At(0))
        .valueColumn("v64", Decoders.int64At(4))
        .valueColumn("o32", Decoders.int32OrderedAt(12))
        .valueColumn("o64", Decoders.int64OrderedAt(16))
        .valueColumn("hex", Decoders.custom("text", HEX::formatHex))
        .build();
    List<Entry> entries = new ArrayList<>();
    for (int i = 0; i < INTS.length; i++) {
      for (int j : new int[] {0, LONGS.length - 1, i}) {
        int k32 = INTS[i];
        long k64 = LONGS[j];
        byte[] key = concat(utf8("i:"), i32(k32 ^ Integer.MIN_VALUE), i64(k64 ^ Long.MIN_VALUE));
        byte[] value = concat(i32(~k32), i64(~k64), i32(k32 ^ Integer.MIN_VALUE),
            i64(k64 ^ Long.MIN_VALUE), new byte[] {7, 8, 9}); // trailing bytes: the At forms ignore them
        if (entries.stream().noneMatch(e -> Arrays.equals(e.key(), key))) {
          entries.add(new Entry(key, value, List.of(k32, k64, ~k32, ~k64, k32, k64, HEX.formatHex(value))));
        }
      }
    }
    return new Table("data", mapping,
        "select k32, k64, v32, v64, o32, o64, hex from ints order by kv_key", entries);
  }

  /** int32 key, int64 and int64Ordered of the same 8-byte value. */
  static Table wholeInts(ColumnFamilyHandle family) {
    TreeMapping mapping = TreeMapping.builder(family).prefix(utf8("a:")).table("whole_ints")
        .keyColumn("k", Decoders.int32())
        .valueColumn("p", Decoders.int64())
        .valueColumn("q", Decoders.int64Ordered())
        .build();
    List<Entry> entries = new ArrayList<>();
    for (int i = 0; i < INTS.length; i++) {
      entries.add(new Entry(concat(utf8("a:"), i32(INTS[i])), i64(LONGS[i]),
          List.of(INTS[i], LONGS[i], LONGS[i] ^ Long.MIN_VALUE)));
    }
    return new Table("data", mapping, "select k, p, q from whole_ints order by kv_key", entries);
  }

  /** int64Ordered key, int32 and int32Ordered of the same 4-byte value. */
  static Table wholeOrderedInts(ColumnFamilyHandle family) {
    TreeMapping mapping = TreeMapping.builder(family).prefix(utf8("b:")).table("whole_ordered")
        .keyColumn("k", Decoders.int64Ordered())
        .valueColumn("p", Decoders.int32())
        .valueColumn("q", Decoders.int32Ordered())
        .build();
    List<Entry> entries = new ArrayList<>();
    for (int i = 0; i < LONGS.length; i++) {
      entries.add(new Entry(concat(utf8("b:"), i64(LONGS[i] ^ Long.MIN_VALUE)), i32(INTS[i]),
          List.of(LONGS[i], INTS[i], INTS[i] ^ Integer.MIN_VALUE)));
    }
    return new Table("data", mapping, "select k, p, q from whole_ordered order by kv_key", entries);
  }

  /** bytesAt / utf8From keys; utf8, bytes, bytesFrom, bytesAt, utf8At, utf8From values. */
  static Table texts(ColumnFamilyHandle family) {
    TreeMapping mapping = TreeMapping.builder(family).prefix(utf8("t:")).table("texts")
        .keyColumn("code", Decoders.bytesAt(0, 2))
        .keyColumn("name", Decoders.utf8From(2))
        .valueColumn("whole", Decoders.utf8())
        .valueColumn("raw", Decoders.bytes())
        .valueColumn("tail", Decoders.bytesFrom(3))
        .valueColumn("mid", Decoders.bytesAt(1, 2))
        .valueColumn("head", Decoders.utf8At(0, 3))
        .valueColumn("rest", Decoders.utf8From(3))
        .build();
    String[] names = {"", "plain", "ñame ✓", "日本語", "tab\there", "back\\slash\nnewline"};
    String[] bodies = {"", "x", "héllo ✓ 日本", "a\tb\\c\nd\re", "{\"json\": \"as text\"}", "\u00e9\u00e8"};
    List<Entry> entries = new ArrayList<>();
    for (int i = 0; i < names.length; i++) {
      byte[] code = {(byte) (i * 50), (byte) 0xff};
      byte[] value = utf8("ab" + i + bodies[i]);
      entries.add(new Entry(concat(utf8("t:"), code, utf8(names[i])), value,
          List.of(HEX.formatHex(code), names[i], "ab" + i + bodies[i], HEX.formatHex(value),
              HEX.formatHex(Arrays.copyOfRange(value, 3, value.length)),
              HEX.formatHex(Arrays.copyOfRange(value, 1, 3)), "ab" + i, bodies[i])));
    }
    return new Table("data", mapping, "select encode(code, 'hex'), name, whole, encode(raw, 'hex'),"
        + " encode(tail, 'hex'), encode(mid, 'hex'), head, rest from texts order by kv_key", entries);
  }

  /** Every JSON decoder, dotted paths and JSON Pointers, missing fields and JSON null as NULL. */
  static Table json(String url, ColumnFamilyHandle family) {
    TreeMapping mapping = TreeMapping.builder(family).prefix(utf8("j:")).table("docs")
        .keyColumn("id", Decoders.custom("text", bytes -> new String(bytes, StandardCharsets.UTF_8)
            .toUpperCase(Locale.ROOT)))
        .valueColumn("doc", Decoders.json())
        .valueColumn("name", Decoders.jsonText("name"))
        .valueColumn("city", Decoders.jsonText("customer.address.city"))
        .valueColumn("city_ptr", Decoders.jsonText("/customer/address/city"))
        .valueColumn("slash", Decoders.jsonText("/a~1b"))
        .valueColumn("tag1", Decoders.jsonText("/tags/1"))
        .valueColumn("n_text", Decoders.jsonText("n"))
        .valueColumn("nested_text", Decoders.jsonText("nested"))
        .valueColumn("n", Decoders.jsonInt("n"))
        .valueColumn("big", Decoders.jsonLong("big"))
        .valueColumn("d", Decoders.jsonDouble("d"))
        .valueColumn("num", Decoders.jsonNumeric("num"))
        .valueColumn("ok", Decoders.jsonBoolean("ok"))
        .valueColumn("tags", Decoders.jsonDocument("tags"))
        .valueColumn("nested_x", Decoders.jsonDocument("nested.x"))
        .valueColumn("nul", Decoders.jsonInt("nul"))
        .valueColumn("len", Decoders.custom("integer", bytes -> bytes.length))
        .valueColumn("nothing", Decoders.custom("text", bytes -> null))
        .build();
    Map<String, String> docs = new LinkedHashMap<>();
    docs.put("ann", "{\"name\":\"Ann\",\"customer\":{\"address\":{\"city\":\"Oslo\"}},\"n\":12,"
        + "\"big\":9007199254740993,\"d\":1.25,\"num\":12345678901234567890.123456789,\"ok\":true,"
        + "\"tags\":[\"a\",\"b\"],\"a/b\":\"slash\",\"nested\":{\"x\":[1,2.50,{\"y\":null}]},\"nul\":null}");
    docs.put("bo", "{\"name\":\"Bo \\\"quoted\\\" \\\\ tab\\t ✓\",\"n\":-2147483648,"
        + "\"big\":-9223372036854775808,\"d\":-0.1,\"num\":-0.5,\"ok\":false,\"tags\":[],"
        + "\"nested\":{\"x\":\"s\"},\"nul\":5,\"customer\":{\"address\":{}}}");
    docs.put("cy", "{\"n\":2147483647,\"big\":1,\"d\":1e300,\"num\":3,\"tags\":[\"only\"],"
        + "\"nested\":[1],\"extra\":{\"deep\":[true,false]}}");
    docs.put("empty", "{}");
    docs.put("array", "[1,2,3]");
    List<Entry> entries = new ArrayList<>();
    Map<String, List<Object>> rows = new LinkedHashMap<>();
    rows.put("ann", Arrays.asList("ANN", "Ann", "Oslo", "Oslo", "slash", "b", "12",
        "{\"x\":[1,2.50,{\"y\":null}]}", 12, 9007199254740993L, 1.25, "12345678901234567890.123456789",
        true, "[\"a\",\"b\"]", "[1,2.50,{\"y\":null}]", null));
    rows.put("bo", Arrays.asList("BO", "Bo \"quoted\" \\ tab\t ✓", null, null, null, null, "-2147483648",
        "{\"x\":\"s\"}", Integer.MIN_VALUE, Long.MIN_VALUE, -0.1, "-0.5", false, "[]", "\"s\"", 5));
    rows.put("cy", Arrays.asList("CY", null, null, null, null, null, "2147483647", "[1]",
        Integer.MAX_VALUE, 1L, 1e300, "3", null, "[\"only\"]", null, null));
    rows.put("empty", Arrays.asList("EMPTY", null, null, null, null, null, null, null, null, null, null,
        null, null, null, null, null));
    rows.put("array", Arrays.asList("ARRAY", null, null, null, null, null, null, null, null, null, null,
        null, null, null, null, null));
    for (Map.Entry<String, String> doc : docs.entrySet()) {
      List<Object> row = new ArrayList<>(rows.get(doc.getKey()));
      // jsonb columns: compare with Postgres's own reading of the text.
      row.add(1, jsonb(url, doc.getValue()));
      row.set(14, row.get(14) == null ? null : jsonb(url, (String) row.get(14)));
      row.set(15, row.get(15) == null ? null : jsonb(url, (String) row.get(15)));
      row.add(utf8(doc.getValue()).length);
      row.add(null);
      entries.add(new Entry(concat(utf8("j:"), utf8(doc.getKey())), utf8(doc.getValue()), row));
    }
    return new Table("data", mapping, "select id, doc::text, name, city, city_ptr, slash, tag1, n_text,"
        + " nested_text, n, big, d, num, ok, tags::text, nested_x::text, nul, len, nothing"
        + " from docs order by kv_key", entries);
  }

  static String jsonb(String url, String json) {
    return (String) TestPostgres.query(url, "select '" + json.replace("'", "''") + "'::jsonb::text").get(0).get(0);
  }

  /** A tree without prefix: utf8 key, bytes value (empty included). */
  static Table plain(ColumnFamilyHandle family) {
    TreeMapping mapping = TreeMapping.builder(family).table("plain")
        .keyColumn("k", Decoders.utf8())
        .valueColumn("v", Decoders.bytes())
        .build();
    List<Entry> entries = new ArrayList<>();
    String[] keys = {"a", "b c", "ü", "z\\z"};
    for (int i = 0; i < keys.length; i++) {
      byte[] value = new byte[i * 3];
      Arrays.fill(value, (byte) (0x80 + i));
      entries.add(new Entry(utf8(keys[i]), value, List.of(keys[i], HEX.formatHex(value))));
    }
    return new Table("plain", mapping, "select k, encode(v, 'hex') from plain order by kv_key", entries);
  }

  /** No key columns: the table is keyed by the raw key column, here renamed. */
  static Table rawKeyOnly(ColumnFamilyHandle family) {
    TreeMapping mapping = TreeMapping.builder(family).prefix(utf8("r:")).table("public.raw_only")
        .rawKeyColumn("raw")
        .valueColumn("v", Decoders.utf8())
        .build();
    List<Entry> entries = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      byte[] key = concat(utf8("r:"), new byte[] {(byte) (0xf0 + i), 0, (byte) i});
      entries.add(new Entry(key, utf8("v" + i), List.of(HEX.formatHex(key), "v" + i)));
    }
    return new Table("data", mapping, "select encode(raw, 'hex'), v from raw_only order by raw", entries);
  }

  @Test
  void orderedIntegersSortByKeyInNumericOrder() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data")) {
      Table table = atOffsets(store.family("data"));
      for (Entry entry : table.entries()) {
        store.db.put(store.family("data"), entry.key(), entry.value());
      }
      try (RunningReplication running = Replication.builder().postgres(url).source(store.db)
          .tree(table.mapping()).build().start()) {
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
      }
      // Sign-flipped big-endian keys sort byte-wise exactly as the numbers do.
      List<List<Object>> byKey = TestPostgres.query(url, "select k32, k64 from ints order by kv_key");
      List<List<Object>> byNumber = TestPostgres.query(url, "select k32, k64 from ints order by k32, k64");
      assertThat(byKey).hasSize(table.entries().size()).isEqualTo(byNumber);
      assertThat(byKey.get(0)).isEqualTo(List.of(Integer.MIN_VALUE, Long.MIN_VALUE));
      assertThat(byKey.get(byKey.size() - 1)).isEqualTo(List.of(Integer.MAX_VALUE, Long.MAX_VALUE));
    }
  }

  @Test
  void factoriesCheckTheirArgumentsAndNameTheirTypes() {
    assertThat(Decoders.int32().postgresType()).isEqualTo("integer");
    assertThat(Decoders.int32At(3).postgresType()).isEqualTo("integer");
    assertThat(Decoders.int32Ordered().postgresType()).isEqualTo("integer");
    assertThat(Decoders.int32OrderedAt(1).postgresType()).isEqualTo("integer");
    assertThat(Decoders.int64().postgresType()).isEqualTo("bigint");
    assertThat(Decoders.int64At(3).postgresType()).isEqualTo("bigint");
    assertThat(Decoders.int64Ordered().postgresType()).isEqualTo("bigint");
    assertThat(Decoders.int64OrderedAt(1).postgresType()).isEqualTo("bigint");
    assertThat(Decoders.utf8().postgresType()).isEqualTo("text");
    assertThat(Decoders.utf8From(1).postgresType()).isEqualTo("text");
    assertThat(Decoders.utf8At(1, 2).postgresType()).isEqualTo("text");
    assertThat(Decoders.bytes().postgresType()).isEqualTo("bytea");
    assertThat(Decoders.bytesFrom(1).postgresType()).isEqualTo("bytea");
    assertThat(Decoders.bytesAt(1, 2).postgresType()).isEqualTo("bytea");
    assertThat(Decoders.json().postgresType()).isEqualTo("jsonb");
    assertThat(Decoders.jsonText("a").postgresType()).isEqualTo("text");
    assertThat(Decoders.jsonInt("a").postgresType()).isEqualTo("integer");
    assertThat(Decoders.jsonLong("a").postgresType()).isEqualTo("bigint");
    assertThat(Decoders.jsonDouble("a").postgresType()).isEqualTo("double precision");
    assertThat(Decoders.jsonNumeric("a").postgresType()).isEqualTo("numeric");
    assertThat(Decoders.jsonBoolean("a").postgresType()).isEqualTo("boolean");
    assertThat(Decoders.jsonDocument("a").postgresType()).isEqualTo("jsonb");
    assertThat(Decoders.custom("date", bytes -> null).postgresType()).isEqualTo("date");
    assertThat(Decoders.int64At(8)).hasToString("int64 at offset 8 -> bigint");

    assertThatThrownBy(() -> Decoders.int32At(-1)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("offset");
    assertThatThrownBy(() -> Decoders.utf8At(0, -2)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("length");
    assertThatThrownBy(() -> Decoders.bytesFrom(-3)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("offset");
    assertThatThrownBy(() -> Decoders.jsonText("")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("path");
    assertThatThrownBy(() -> Decoders.jsonInt(null)).isInstanceOf(NullPointerException.class)
        .hasMessageContaining("path");
    assertThatThrownBy(() -> Decoders.custom(" ", bytes -> null)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("postgresType");
    assertThatThrownBy(() -> Decoders.custom("text", null)).isInstanceOf(NullPointerException.class)
        .hasMessageContaining("function");
  }

  // ------------------------------------------------------------------ malformed input

  static final String ITEMS = "items";

  static TreeMapping items(ColumnFamilyHandle family) {
    return TreeMapping.builder(family).prefix(utf8("m:")).name(ITEMS).table(ITEMS)
        .keyColumn("id", Decoders.int32())
        .valueColumn("raw", Decoders.utf8())
        .valueColumn("name", Decoders.jsonText("name"))
        .valueColumn("qty", Decoders.jsonInt("qty"))
        .build();
  }

  static byte[] itemKey(int id) {
    return concat(utf8("m:"), i32(id));
  }

  static String itemJson(int id) {
    return "{\"name\":\"n" + id + "\",\"qty\":" + id + "}";
  }

  static List<Object> itemRow(int id) {
    return List.of(id, itemJson(id), "n" + id, id);
  }

  static List<List<Object>> items(String url) {
    return TestPostgres.query(url, "select id, raw, name, qty from items order by kv_key");
  }

  /** A malformed entry: its key and value, the column it fails and what the message says. */
  record Malformed(String what, byte[] key, byte[] value, String column, String reason,
      Class<? extends Throwable> rootCause) {
    @Override
    public String toString() {
      return what;
    }
  }

  static Stream<Arguments> malformed() {
    Malformed tooShort = new Malformed("key too short", concat(utf8("m:"), new byte[] {0, 3}),
        utf8(itemJson(3)), "id", "expected exactly 4 bytes but found 2",
        IllegalArgumentException.class);
    Malformed badUtf8 = new Malformed("bad UTF-8 value", itemKey(3),
        new byte[] {'{', (byte) 0xc3, '(', '}'}, "raw", "not valid UTF-8",
        java.nio.charset.CharacterCodingException.class);
    Malformed badJson = new Malformed("bad JSON value", itemKey(3), utf8("{\"name\": \"x\", qty}"),
        "name", "not valid JSON", com.fasterxml.jackson.core.JsonProcessingException.class);
    Malformed wrongKind = new Malformed("JSON field of the wrong kind", itemKey(3),
        utf8("{\"name\":\"x\",\"qty\":\"many\"}"), "qty", "not a 32-bit integer",
        IllegalArgumentException.class);
    Malformed tooLarge = new Malformed("JSON integer too large", itemKey(3),
        utf8("{\"name\":\"x\",\"qty\":3000000000}"), "qty", "not a 32-bit integer",
        IllegalArgumentException.class);
    return Stream.of(Arguments.of(tooShort, false), Arguments.of(badUtf8, false),
        Arguments.of(badJson, false), Arguments.of(wrongKind, false), Arguments.of(tooLarge, false),
        Arguments.of(badJson, true));
  }

  /**
   * The bad entry is written alone, or last in a batch of 2,500 puts (which takes the staged COPY
   * path): either way the replication fails naming it, and every batch before it is committed.
   */
  @ParameterizedTest(name = "{0}, in a large batch: {1}")
  @MethodSource("malformed")
  void malformedInputFailsNamingKeyAndColumn(Malformed bad, boolean inLargeBatch) throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      store.db.put(data, itemKey(1), utf8(itemJson(1))); // copied
      try (RunningReplication running = Replication.builder().postgres(url).source(store.db)
          .name("malformed").tree(items(data)).build().start()) {
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
        assertThat(items(url)).containsExactly(itemRow(1));

        store.db.put(data, itemKey(2), utf8(itemJson(2)));
        long beforeBad = store.db.getLatestSequenceNumber();
        if (inLargeBatch) {
          try (WriteBatch batch = new WriteBatch(); WriteOptions options = new WriteOptions()) {
            for (int id = 1_000; id < 3_500; id++) {
              batch.put(data, itemKey(id), utf8(itemJson(id)));
            }
            batch.put(data, bad.key(), bad.value());
            store.db.write(options, batch);
          }
        } else {
          store.db.put(data, bad.key(), bad.value());
        }
        long badSequence = store.db.getLatestSequenceNumber();
        store.db.put(data, itemKey(4), utf8(itemJson(4)));
        store.db.delete(data, itemKey(1));

        ReplicationException failure = Await.failure(running, WAIT);
        String keyHex = HEX.formatHex(bad.key());
        assertThat(failure.mapping()).hasValue(ITEMS);
        assertThat(failure.tree()).hasValue("data");
        assertThat(failure.keyHex()).hasValue(keyHex);
        assertThat(failure.sequence()).hasValue(badSequence);
        assertThat(failure.getMessage()).contains("'" + ITEMS + "'", keyHex,
            "column \"" + bad.column() + "\"", bad.reason(), String.valueOf(badSequence));
        assertThat(failure).hasRootCauseInstanceOf(bad.rootCause());

        // Everything before the bad write batch, nothing from it on.
        assertThat(items(url)).containsExactly(itemRow(1), itemRow(2));
        assertThat(TestPostgres.query(url,
            "select applied_sequence, failure from kv2pg.replication where name = 'malformed'"))
            .containsExactly(List.of(beforeBad, failure.getMessage()));
      }
    }
  }

  @Test
  void malformedEntryInTheInitialCopyFailsNamingIt() throws Exception {
    String url = TestPostgres.newDatabase();
    try (TestStore store = TestStore.open(dir, "data")) {
      ColumnFamilyHandle data = store.family("data");
      for (int id = 1; id <= 5; id++) {
        store.db.put(data, itemKey(id), utf8(id == 4 ? "{\"name\":[\"x\"],\"qty\":true}" : itemJson(id)));
      }
      long snapshot = store.db.getLatestSequenceNumber();
      try (RunningReplication running = Replication.builder().postgres(url).source(store.db)
          .name("malformed").tree(items(data)).build().start()) {
        ReplicationException failure = Await.failure(running, WAIT);
        assertThat(failure.mapping()).hasValue(ITEMS);
        assertThat(failure.keyHex()).hasValue(HEX.formatHex(itemKey(4)));
        assertThat(failure.sequence()).hasValue(snapshot);
        // jsonText takes an array as its JSON text; jsonInt refuses a boolean.
        assertThat(failure.getMessage()).contains(HEX.formatHex(itemKey(4)), "column \"qty\"",
            "not a 32-bit integer");
        // Whatever copy chunk held the bad entry was rolled back; nothing of the bad key was written.
        assertThat(items(url)).isSubsetOf(itemRow(1), itemRow(2), itemRow(3), itemRow(5));
      }
    }
  }
}
