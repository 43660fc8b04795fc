package io.kv2pg.internal.change;

import java.util.Arrays;

/** Byte-wise key ranges, ordered as RocksDB's default comparator and Postgres's bytea order. */
public final class KeyRanges {
  private KeyRanges() {}

  /** Returns the first key after every key that starts with the prefix, or {@code null} if none. */
  public static byte[] prefixEnd(byte[] prefix) {
    for (int i = prefix.length - 1; i >= 0; i--) {
      if (prefix[i] != (byte) 0xff) {
        byte[] end = Arrays.copyOf(prefix, i + 1);
        end[i]++;
        return end;
      }
    }
    return null;
  }

  /** Returns the first key after {@code key}: the key followed by a zero byte. */
  public static byte[] successor(byte[] key) {
    return Arrays.copyOf(key, key.length + 1);
  }

  /** Returns whether {@code key} lies in [begin, end), {@code end == null} meaning no end. */
  public static boolean contains(byte[] begin, byte[] end, byte[] key) {
    return Arrays.compareUnsigned(key, begin) >= 0 && (end == null || Arrays.compareUnsigned(key, end) < 0);
  }
}
