package io.kv2pg.internal.rocksdb;

import java.util.List;

/**
 * One write batch read from the write-ahead log: the unit that kv2pg never splits across Postgres
 * transactions.
 *
 * @param sequence the sequence number of the batch's first record
 * @param count how many sequence numbers the batch takes (0 for an empty batch)
 * @param records the batch's records, in order
 */
public record WalBatch(long sequence, int count, List<WalRecord> records) {

  /** Returns the last sequence number the batch takes ({@code sequence - 1} when empty). */
  public long lastSequence() {
    return sequence + count - 1;
  }
}
