package io.kv2pg.internal.rocksdb;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Parses the bytes of a write batch ({@code WriteBatch.data()}) in Java.
 *
 * <p>Walking a batch with a {@code WriteBatch.Handler} costs a JNI up-call and array copies per
 * record, which made the log reader expensive for the many small batches a store usually writes;
 * one {@code data()} call and this parse replace them. It knows only the records plain RocksDB
 * writes and returns {@code null} for anything else (2PC markers, blob indexes, wide-column
 * entities, timed puts, unknown tags) and for anything malformed, so that the caller walks such
 * batches with the handler: rare records then keep one implementation and RocksDB's own errors.
 *
 * <p>The format is RocksDB's {@code db/write_batch.cc} ({@code ReadRecordFromWriteBatch}): a
 * header of fixed64 sequence and fixed32 count, little-endian, then records that start with a
 * {@code ValueType} tag from {@code db/dbformat.h}, whose values RocksDB keeps fixed because they
 * are on disk. Column family ids are varint32; keys and values are varint32-length-prefixed.
 */
final class WriteBatchReader {
  static final int HEADER_BYTES = 12;

  private static final int DELETION = 0x0;
  private static final int VALUE = 0x1;
  private static final int MERGE = 0x2;
  private static final int LOG_DATA = 0x3;
  private static final int COLUMN_FAMILY_DELETION = 0x4;
  private static final int COLUMN_FAMILY_VALUE = 0x5;
  private static final int COLUMN_FAMILY_MERGE = 0x6;
  private static final int SINGLE_DELETION = 0x7;
  private static final int COLUMN_FAMILY_SINGLE_DELETION = 0x8;
  private static final int NOOP = 0xD;
  private static final int COLUMN_FAMILY_RANGE_DELETION = 0xE;
  private static final int RANGE_DELETION = 0xF;

  private final byte[] rep;
  private int position = HEADER_BYTES;

  private WriteBatchReader(byte[] rep) {
    this.rep = rep;
  }

  /** Returns the header's record count; {@code rep} must hold at least the header. */
  static int count(byte[] rep) {
    return (rep[8] & 0xFF) | (rep[9] & 0xFF) << 8 | (rep[10] & 0xFF) << 16 | (rep[11] & 0xFF) << 24;
  }

  /**
   * Returns the batch's records, the first counted one numbered {@code sequence}, or {@code null}
   * if the batch must be walked with the handler instead.
   */
  static List<WalRecord> read(byte[] rep, long sequence) {
    if (rep.length < HEADER_BYTES) {
      return null;
    }
    int count = count(rep);
    // A record takes at least two bytes: a larger count is corrupt, and must not size the list.
    if (count < 0 || count > (rep.length - HEADER_BYTES) / 2) {
      return null;
    }
    return new WriteBatchReader(rep).records(count, sequence);
  }

  private List<WalRecord> records(int count, long sequence) {
    List<WalRecord> records = new ArrayList<>(count);
    long next = sequence;
    while (position < rep.length) {
      int tag = rep[position++] & 0xFF;
      if (tag == NOOP) {
        continue;
      }
      if (tag == LOG_DATA) {
        // Application annotations, skipped as the handler path does; still must be well formed.
        if (slice() == null) {
          return null;
        }
        continue;
      }
      WalRecord.Type type = type(tag);
      if (type == null) {
        return null;
      }
      int family = hasFamily(tag) ? varint32() : 0;
      if (family < 0) {
        return null;
      }
      byte[] key = slice();
      if (key == null) {
        return null;
      }
      byte[] value = null;
      if (type != WalRecord.Type.DELETE && type != WalRecord.Type.SINGLE_DELETE) {
        value = slice();
        if (value == null) {
          return null;
        }
      }
      if (records.size() == count) {
        return null;
      }
      records.add(new WalRecord(type, family, key, value, type.counted() ? next++ : next));
    }
    return records.size() == count ? records : null;
  }

  private static WalRecord.Type type(int tag) {
    return switch (tag) {
      case VALUE, COLUMN_FAMILY_VALUE -> WalRecord.Type.PUT;
      case DELETION, COLUMN_FAMILY_DELETION -> WalRecord.Type.DELETE;
      case SINGLE_DELETION, COLUMN_FAMILY_SINGLE_DELETION -> WalRecord.Type.SINGLE_DELETE;
      case RANGE_DELETION, COLUMN_FAMILY_RANGE_DELETION -> WalRecord.Type.DELETE_RANGE;
      case MERGE, COLUMN_FAMILY_MERGE -> WalRecord.Type.MERGE;
      default -> null;
    };
  }

  private static boolean hasFamily(int tag) {
    return switch (tag) {
      case COLUMN_FAMILY_VALUE, COLUMN_FAMILY_DELETION, COLUMN_FAMILY_SINGLE_DELETION,
          COLUMN_FAMILY_RANGE_DELETION, COLUMN_FAMILY_MERGE -> true;
      default -> false;
    };
  }

  /** Returns the next length-prefixed slice, or {@code null} if it is cut short. */
  private byte[] slice() {
    int length = varint32();
    if (length < 0 || length > rep.length - position) {
      return null;
    }
    byte[] bytes = Arrays.copyOfRange(rep, position, position + length);
    position += length;
    return bytes;
  }

  /** Returns the next varint32, or -1 if it is cut short or does not fit in 31 bits. */
  private int varint32() {
    int result = 0;
    for (int shift = 0; shift <= 28; shift += 7) {
      if (position >= rep.length) {
        return -1;
      }
      int b = rep[position++] & 0xFF;
      if (shift == 28 && b > 0x07) {
        return -1;
      }
      result |= (b & 0x7F) << shift;
      if (b < 0x80) {
        return result;
      }
    }
    return -1;
  }
}
