package io.kv2pg.internal.rocksdb;

import static org.assertj.core.api.Assertions.assertThat;

import io.kv2pg.TestStore;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.Transaction;
import org.rocksdb.TransactionDB;
import org.rocksdb.TransactionLogIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The Java parse of write batches ({@link WriteBatchReader}) gives exactly the records the JNI
 * handler gives, for every record kind plain RocksDB writes, and hands every other batch (2PC
 * markers, unknown tags, malformed bytes) to the handler instead of guessing.
 */
class WalBatchDecoderTest {
  private static final long SEED = Long.getLong("kv2pg.walbatch.seed", 20240611L);
  private static final HexFormat HEX = HexFormat.of();
  // Tags from RocksDB's db/dbformat.h, for hand-built batches.
  private static final int VALUE = 0x1;
  private static final int COLUMN_FAMILY_VALUE = 0x5;
  private static final int COLUMN_FAMILY_DELETION = 0x4;
  private static final int COMMIT_XID = 0xB;
  private static final int NOOP = 0xD;
  private static final int BLOB_INDEX = 0x11;

  @TempDir Path dir;

  /** One record as written, to check the decoded records against. */
  private record Written(WalRecord.Type type, int family, byte[] key, byte[] value) {
    String describe() {
      return type + " cf=" + family + " key=" + hex(key) + " value=" + hex(value);
    }
  }

  @Test
  void randomBatchesDecodeAlikeBothWays() throws Exception {
    Random random = new Random(SEED);
    try (TestStore store = TestStore.open(dir, "cf1", "cf2", "cf3");
        WriteOptions options = new WriteOptions()) {
      List<ColumnFamilyHandle> families = List.of(store.family("default"), store.family("cf1"),
          store.family("cf2"), store.family("cf3"));
      List<List<Written>> expected = new ArrayList<>();
      for (int b = 0; b < 300; b++) {
        List<Written> batchRecords = new ArrayList<>();
        try (WriteBatch batch = new WriteBatch()) {
          int operations = 1 + random.nextInt(random.nextInt(10) == 0 ? 40 : 5);
          for (int i = 0; i < operations || batchRecords.isEmpty(); i++) {
            ColumnFamilyHandle family = families.get(random.nextInt(families.size()));
            byte[] key = bytes(random, size(random));
            byte[] value = bytes(random, size(random));
            int id = family.getID();
            switch (random.nextInt(10)) {
              case 0, 1, 2, 3 -> {
                batch.put(family, key, value);
                batchRecords.add(new Written(WalRecord.Type.PUT, id, key, value));
              }
              case 4 -> {
                batch.delete(family, key);
                batchRecords.add(new Written(WalRecord.Type.DELETE, id, key, null));
              }
              case 5 -> {
                batch.singleDelete(family, key);
                batchRecords.add(new Written(WalRecord.Type.SINGLE_DELETE, id, key, null));
              }
              case 6 -> {
                byte[][] range = range(key, value);
                batch.deleteRange(family, range[0], range[1]);
                batchRecords.add(new Written(WalRecord.Type.DELETE_RANGE, id, range[0], range[1]));
              }
              case 7, 8 -> {
                batch.merge(family, key, value);
                batchRecords.add(new Written(WalRecord.Type.MERGE, id, key, value));
              }
              default -> batch.putLogData(value);
            }
          }
          store.db.write(options, batch);
        }
        expected.add(batchRecords);
      }
      assertThat(readBackAndCompare(store.db, expected))
          .as("seed %d (rerun with -Dkv2pg.walbatch.seed=%d)", SEED, SEED).isEqualTo(expected.size());
    }
  }

  @Test
  void explicitRecordsDecodeAlikeBothWays() throws Exception {
    try (TestStore store = TestStore.open(dir, "cf1", "cf2");
        WriteOptions options = new WriteOptions()) {
      RocksDB db = store.db;
      ColumnFamilyHandle cf1 = store.family("cf1");
      ColumnFamilyHandle cf2 = store.family("cf2");
      int id1 = cf1.getID();
      int id2 = cf2.getID();
      List<List<Written>> expected = new ArrayList<>();
      // Single writes without a batch, on the default family (tags without a family id) and others.
      db.put(utf8("k"), utf8("v"));
      expected.add(List.of(new Written(WalRecord.Type.PUT, 0, utf8("k"), utf8("v"))));
      db.put(cf1, new byte[0], new byte[0]);
      expected.add(List.of(new Written(WalRecord.Type.PUT, id1, new byte[0], new byte[0])));
      db.merge(utf8("m"), utf8("1"));
      expected.add(List.of(new Written(WalRecord.Type.MERGE, 0, utf8("m"), utf8("1"))));
      db.merge(cf2, utf8("m"), utf8("2"));
      expected.add(List.of(new Written(WalRecord.Type.MERGE, id2, utf8("m"), utf8("2"))));
      db.delete(utf8("k"));
      expected.add(List.of(new Written(WalRecord.Type.DELETE, 0, utf8("k"), null)));
      db.singleDelete(cf1, new byte[0]);
      expected.add(List.of(new Written(WalRecord.Type.SINGLE_DELETE, id1, new byte[0], null)));
      db.deleteRange(utf8("a"), utf8("z"));
      expected.add(List.of(new Written(WalRecord.Type.DELETE_RANGE, 0, utf8("a"), utf8("z"))));
      db.deleteRange(cf2, new byte[0], utf8("b"));
      expected.add(List.of(new Written(WalRecord.Type.DELETE_RANGE, id2, new byte[0], utf8("b"))));
      // Lengths on both sides of each varint size: 1, 2, 3 and 4 bytes.
      Random random = new Random(SEED);
      List<Written> lengths = new ArrayList<>();
      try (WriteBatch batch = new WriteBatch()) {
        batch.putLogData(utf8("before"));
        for (int length : new int[] {127, 128, 16383, 16384, 2_097_151, 2_097_152}) {
          byte[] key = bytes(random, Math.min(length, 16384));
          byte[] value = bytes(random, length);
          batch.put(cf1, key, value);
          lengths.add(new Written(WalRecord.Type.PUT, id1, key, value));
          batch.putLogData(bytes(random, Math.min(length, 20000)));
        }
        byte[] deleted = bytes(random, 300);
        batch.delete(cf2, deleted);
        lengths.add(new Written(WalRecord.Type.DELETE, id2, deleted, null));
        db.write(options, batch);
      }
      expected.add(lengths);
      assertThat(readBackAndCompare(db, expected)).isEqualTo(expected.size());
    }
  }

  @Test
  void twoPhaseMarkersGoThroughTheHandler() throws Exception {
    try (TestStore store = TestStore.openTransactionDb(dir, "cf1");
        WriteOptions options = new WriteOptions()) {
      TransactionDB db = (TransactionDB) store.db;
      ColumnFamilyHandle cf1 = store.family("cf1");
      db.put(cf1, utf8("plain"), utf8("1"));
      try (Transaction transaction = db.beginTransaction(options)) {
        transaction.setName("xid-commit");
        transaction.put(cf1, utf8("a"), utf8("2"));
        transaction.delete(utf8("b"));
        transaction.prepare();
        transaction.commit();
      }

      List<WalRecord.Type> markers = new ArrayList<>();
      int parsed = 0;
      int batches = 0;
      try (WalBatchDecoder decoder = new WalBatchDecoder();
          TransactionLogIterator log = db.getUpdatesSince(0)) {
        for (; log.isValid(); log.next()) {
          TransactionLogIterator.BatchResult result = log.getBatch();
          long sequence = result.sequenceNumber();
          try (WriteBatch batch = result.writeBatch()) {
            batches++;
            List<WalRecord> viaHandler = decoder.decodeWithHandler(batch, sequence);
            boolean hasMarker = viaHandler.stream().anyMatch(record -> record.columnFamilyId() == -1);
            viaHandler.stream().filter(record -> record.columnFamilyId() == -1)
                .forEach(record -> markers.add(record.type()));
            List<WalRecord> inJava = WriteBatchReader.read(batch.data(), sequence);
            long before = decoder.parsedInJava;
            List<WalRecord> decoded = decoder.decode(batch, sequence);
            assertThat(describe(decoded)).isEqualTo(describe(viaHandler));
            assertThat(decoder.lastCount()).isEqualTo(batch.count());
            if (hasMarker) {
              assertThat(inJava).as("batch at %d with 2PC markers", sequence).isNull();
              assertThat(decoder.parsedInJava).isEqualTo(before);
            } else {
              assertThat(inJava).as("plain batch at %d", sequence).isNotNull();
              assertThat(describe(inJava)).isEqualTo(describe(viaHandler));
              assertThat(decoder.parsedInJava).isEqualTo(before + 1);
              parsed++;
            }
          }
        }
      }
      // The log iterator stops after the prepare batch (it reports a gap there, as for kv2pg's
      // tailer), so the commit marker is covered by a hand-built batch below.
      assertThat(markers).containsExactly(WalRecord.Type.BEGIN_PREPARE, WalRecord.Type.END_PREPARE);
      assertThat(parsed).as("the plain put").isEqualTo(1);
      assertThat(batches).isEqualTo(2);
    }
  }

  @Test
  void handBuiltBatchesWithNoopsAndWideFamilyIdsAreParsed() throws Exception {
    // Family ids that take two and three varint bytes need no real families: the handler only
    // reports the numbers, so it is the reference here too.
    byte[] rep = batch(3, out -> {
      out.write(NOOP);
      out.write(COLUMN_FAMILY_VALUE);
      varint(out, 300);
      slice(out, utf8("k"));
      slice(out, utf8("v"));
      out.write(COLUMN_FAMILY_DELETION);
      varint(out, 70_000);
      slice(out, utf8("gone"));
      out.write(NOOP);
      out.write(VALUE);
      slice(out, new byte[0]);
      slice(out, new byte[200]);
    });
    try (WalBatchDecoder decoder = new WalBatchDecoder(); WriteBatch batch = new WriteBatch(rep)) {
      List<WalRecord> inJava = WriteBatchReader.read(rep, 50);
      assertThat(inJava).isNotNull();
      assertThat(describe(inJava)).containsExactly(
          "PUT cf=300 key=6b value=76 seq=50",
          "DELETE cf=70000 key=676f6e65 value=null seq=51",
          "PUT cf=0 key= value=" + hex(new byte[200]) + " seq=52");
      assertThat(describe(decoder.decodeWithHandler(batch, 50))).isEqualTo(describe(inJava));
      assertThat(describe(decoder.decode(batch, 50))).isEqualTo(describe(inJava));
      assertThat(decoder.parsedInJava).isEqualTo(1);
      assertThat(decoder.lastCount()).isEqualTo(3);
    }
  }

  @Test
  void unknownOrUnsupportedTagsFallBackToTheHandler() throws Exception {
    try (WalBatchDecoder decoder = new WalBatchDecoder()) {
      // A blob index (BlobDB) is a record the handler knows but the Java parse leaves to it.
      byte[] blob = batch(2, out -> {
        out.write(VALUE);
        slice(out, utf8("k"));
        slice(out, utf8("v"));
        out.write(BLOB_INDEX);
        slice(out, utf8("b"));
        slice(out, utf8("index"));
      });
      assertThat(WriteBatchReader.read(blob, 7)).isNull();
      try (WriteBatch batch = new WriteBatch(blob)) {
        assertThat(describe(decoder.decode(batch, 7))).containsExactly(
            "PUT cf=0 key=6b value=76 seq=7", "PUT_BLOB_INDEX cf=0 key=62 value=696e646578 seq=8");
        assertThat(decoder.lastCount()).isEqualTo(2);
      }
      // A commit marker (kTypeCommitXID) alone, as a write-committed transaction's commit writes.
      byte[] commit = batch(0, out -> {
        out.write(COMMIT_XID);
        slice(out, utf8("xid"));
      });
      assertThat(WriteBatchReader.read(commit, 9)).isNull();
      try (WriteBatch batch = new WriteBatch(commit)) {
        assertThat(describe(decoder.decode(batch, 9))).containsExactly(
            "COMMIT cf=-1 key= value=786964 seq=9");
        assertThat(decoder.lastCount()).isZero();
      }
      // A tag RocksDB does not know: never a partial result, and RocksDB's own error.
      byte[] unknown = batch(2, out -> {
        out.write(VALUE);
        slice(out, utf8("k"));
        slice(out, utf8("v"));
        out.write(0x7F);
        slice(out, utf8("x"));
      });
      assertThat(WriteBatchReader.read(unknown, 7)).isNull();
      try (WriteBatch batch = new WriteBatch(unknown)) {
        assertThat(outcome(decoder, batch)).contains("unknown WriteBatch tag")
            .isEqualTo(handlerOutcome(decoder, batch));
      }
      assertThat(decoder.parsedInJava).isZero();
    }
  }

  @Test
  void malformedBytesFallBackToTheHandlerAndFailAsBefore() throws Exception {
    byte[] rep = batch(3, out -> {
      out.write(COLUMN_FAMILY_VALUE);
      varint(out, 1);
      slice(out, utf8("key"));
      slice(out, new byte[130]);
      out.write(VALUE);
      slice(out, new byte[0]);
      slice(out, utf8("v"));
      out.write(COLUMN_FAMILY_DELETION);
      varint(out, 2);
      slice(out, utf8("last"));
    });
    assertThat(WriteBatchReader.read(rep, 1)).hasSize(3);
    try (WalBatchDecoder decoder = new WalBatchDecoder()) {
      for (int length = 0; length < rep.length; length++) {
        byte[] cut = Arrays.copyOf(rep, length);
        assertThat(WriteBatchReader.read(cut, 1)).as("cut to %d bytes", length).isNull();
        if (length >= WriteBatchReader.HEADER_BYTES) {
          try (WriteBatch batch = new WriteBatch(cut)) {
            assertThat(outcome(decoder, batch)).as("cut to %d bytes", length).startsWith("failed")
                .isEqualTo(handlerOutcome(decoder, batch));
          }
        }
      }
      // A header count that disagrees with the records, either way.
      for (int count : new int[] {2, 4, 0}) {
        byte[] miscounted = rep.clone();
        miscounted[8] = (byte) count;
        assertThat(WriteBatchReader.read(miscounted, 1)).as("count %d", count).isNull();
        try (WriteBatch batch = new WriteBatch(miscounted)) {
          assertThat(outcome(decoder, batch)).contains("WriteBatch has wrong count")
              .isEqualTo(handlerOutcome(decoder, batch));
        }
      }
      // A count larger than the bytes could hold must not size anything.
      byte[] huge = rep.clone();
      huge[11] = 0x7F;
      assertThat(WriteBatchReader.read(huge, 1)).isNull();
      // A length whose varint runs past 32 bits.
      byte[] overlong = batch(1, out -> {
        out.write(VALUE);
        out.write(new byte[] {(byte) 0x81, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x10});
        slice(out, utf8("v"));
      });
      assertThat(WriteBatchReader.read(overlong, 1)).isNull();
      try (WriteBatch batch = new WriteBatch(overlong)) {
        assertThat(outcome(decoder, batch)).isEqualTo(handlerOutcome(decoder, batch));
      }
      assertThat(decoder.parsedInJava).isZero();
    }
  }

  @Test
  void tailerTakesEachBatchCountFromItsHeader() throws Exception {
    Random random = new Random(SEED + 1);
    try (TestStore store = TestStore.open(dir, "cf1"); WriteOptions options = new WriteOptions()) {
      ColumnFamilyHandle cf1 = store.family("cf1");
      List<String> expected = new ArrayList<>();
      long sequence = 1;
      for (int b = 0; b < 50; b++) {
        try (WriteBatch batch = new WriteBatch()) {
          int puts = 1 + random.nextInt(6);
          for (int i = 0; i < puts; i++) {
            byte[] key = bytes(random, 1 + random.nextInt(200));
            batch.put(cf1, key, utf8("v" + b));
            expected.add(new Written(WalRecord.Type.PUT, cf1.getID(), key, utf8("v" + b)).describe()
                + " seq=" + sequence++);
          }
          batch.putLogData(utf8("note"));
          store.db.write(options, batch);
        }
      }
      long last = store.db.getLatestSequenceNumber();
      assertThat(last).isEqualTo(sequence - 1);
      List<String> tailed = new ArrayList<>();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      try (WalBatchDecoder decoder = new WalBatchDecoder();
          WalTailer tailer = new WalTailer(new PrimaryWalSource(store.db), decoder, 1)) {
        int batches = 0;
        while (tailer.nextSequence() <= last) {
          WalBatch batch = tailer.poll();
          if (batch == null) {
            assertThat(System.nanoTime()).as("tailer stuck at %d", tailer.nextSequence())
                .isLessThan(deadline);
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
            continue;
          }
          batches++;
          assertThat(batch.count()).isEqualTo(batch.records().size());
          assertThat(tailer.nextSequence()).isEqualTo(batch.sequence() + batch.count());
          tailed.addAll(describe(batch.records()));
        }
        assertThat(batches).isEqualTo(50);
        assertThat(decoder.parsedInJava).isEqualTo(50);
        assertThat(tailer.nextSequence()).isEqualTo(last + 1);
      }
      assertThat(tailed).isEqualTo(expected);
    }
  }

  // ------------------------------------------------------------------------------------ helpers

  /**
   * Reads the whole log; checks, per batch, that the Java parse took it and matches the handler,
   * that {@link WalBatchDecoder#decode} agrees and counts as the header says, and that the records
   * are those written. Returns the number of batches.
   */
  private static int readBackAndCompare(RocksDB db, List<List<Written>> expected) throws RocksDBException {
    int index = 0;
    long nextSequence = 1;
    try (WalBatchDecoder decoder = new WalBatchDecoder();
        TransactionLogIterator log = db.getUpdatesSince(0)) {
      for (; log.isValid(); log.next()) {
        TransactionLogIterator.BatchResult result = log.getBatch();
        long sequence = result.sequenceNumber();
        try (WriteBatch batch = result.writeBatch()) {
          assertThat(index).as("more batches in the log than written").isLessThan(expected.size());
          assertThat(sequence).isEqualTo(nextSequence);
          List<WalRecord> viaHandler = decoder.decodeWithHandler(batch, sequence);
          List<WalRecord> inJava = WriteBatchReader.read(batch.data(), sequence);
          assertThat(inJava).as("batch %d at sequence %d parsed in Java", index, sequence).isNotNull();
          assertThat(describe(inJava)).as("batch %d", index).isEqualTo(describe(viaHandler));

          long before = decoder.parsedInJava;
          List<WalRecord> decoded = decoder.decode(batch, sequence);
          assertThat(decoder.parsedInJava).isEqualTo(before + 1);
          assertThat(describe(decoded)).isEqualTo(describe(viaHandler));
          assertThat(decoder.lastCount()).isEqualTo(batch.count()).isEqualTo(expected.get(index).size());

          List<String> written = new ArrayList<>();
          for (Written record : expected.get(index)) {
            written.add(record.describe() + " seq=" + nextSequence++);
          }
          assertThat(describe(decoded)).as("batch %d as written", index).isEqualTo(written);
          index++;
        }
      }
      log.status();
    }
    return index;
  }

  private static List<String> describe(List<WalRecord> records) {
    List<String> described = new ArrayList<>(records.size());
    for (WalRecord record : records) {
      described.add(new Written(record.type(), record.columnFamilyId(), record.key(), record.value())
          .describe() + " seq=" + record.sequence());
    }
    return described;
  }

  /** What {@link WalBatchDecoder#decode} makes of a batch: its records or its failure. */
  private static String outcome(WalBatchDecoder decoder, WriteBatch batch) {
    try {
      return String.join("\n", describe(decoder.decode(batch, 1)));
    } catch (RocksDBException | RuntimeException e) {
      return "failed: " + e;
    }
  }

  /** The same through the handler only, as before the Java parse existed. */
  private static String handlerOutcome(WalBatchDecoder decoder, WriteBatch batch) {
    try {
      return String.join("\n", describe(decoder.decodeWithHandler(batch, 1)));
    } catch (RocksDBException | RuntimeException e) {
      return "failed: " + e;
    }
  }

  private interface Records {
    void write(ByteArrayOutputStream out) throws Exception;
  }

  /** Builds batch bytes: a header with sequence 0 and {@code count}, then the records. */
  private static byte[] batch(int count, Records records) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(new byte[8]);
    out.write(new byte[] {(byte) count, (byte) (count >>> 8), (byte) (count >>> 16), (byte) (count >>> 24)});
    records.write(out);
    return out.toByteArray();
  }

  private static void varint(ByteArrayOutputStream out, int value) {
    while ((value & ~0x7F) != 0) {
      out.write((value & 0x7F) | 0x80);
      value >>>= 7;
    }
    out.write(value);
  }

  private static void slice(ByteArrayOutputStream out, byte[] bytes) {
    varint(out, bytes.length);
    out.write(bytes, 0, bytes.length);
  }

  /** Sizes that make one-, two- and three-byte length varints, mostly small. */
  private static int size(Random random) {
    return switch (random.nextInt(20)) {
      case 0, 1 -> 0;
      case 2, 3 -> 120 + random.nextInt(20);
      case 4 -> 16_380 + random.nextInt(10);
      case 5 -> 16_384 + random.nextInt(30_000);
      default -> 1 + random.nextInt(24);
    };
  }

  private static byte[] bytes(Random random, int size) {
    byte[] bytes = new byte[size];
    random.nextBytes(bytes);
    return bytes;
  }

  /** Orders two keys into a non-empty range [begin, end). */
  private static byte[][] range(byte[] a, byte[] b) {
    int order = Arrays.compareUnsigned(a, b);
    if (order == 0) {
      return new byte[][] {a, Arrays.copyOf(b, b.length + 1)};
    }
    return order < 0 ? new byte[][] {a, b} : new byte[][] {b, a};
  }

  private static byte[] utf8(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static String hex(byte[] bytes) {
    return bytes == null ? "null" : HEX.formatHex(bytes);
  }
}
