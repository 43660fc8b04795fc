package io.kv2pg.internal.rocksdb;

import java.util.ArrayList;
import java.util.List;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * Turns a {@link WriteBatch} into {@link WalRecord}s.
 *
 * <p>Batches made only of the records plain RocksDB writes are parsed in Java from their bytes
 * ({@link WriteBatchReader}), which saves a JNI up-call per record; any other batch is walked with
 * this handler, so that rare records and corrupt batches behave, and fail, as RocksDB says.
 *
 * <p>The JNI layer prints and ignores exceptions thrown by a handler, so every callback catches
 * what it throws, stops the iteration through {@link #shouldContinue()}, and {@link #decode}
 * rethrows it. A handler is bound to the thread that created it: create one on the thread that
 * calls {@link #decode} and use it only there. Not thread-safe.
 */
public final class WalBatchDecoder extends WriteBatch.Handler {
  private static final int DEFAULT_COLUMN_FAMILY_ID = 0;
  private static final byte[] NO_KEY = new byte[0];

  private List<WalRecord> records;
  private long nextSequence;
  private Throwable failure;
  private int lastCount;
  /** Batches decoded without the handler; for tests. */
  long parsedInJava;

  /**
   * Decodes a batch whose first record has sequence number {@code sequence}.
   *
   * @throws RocksDBException if RocksDB cannot walk the batch
   * @throws IllegalStateException if decoding a record failed
   */
  public List<WalRecord> decode(WriteBatch batch, long sequence) throws RocksDBException {
    byte[] rep = batch.data();
    List<WalRecord> parsed = WriteBatchReader.read(rep, sequence);
    if (parsed == null) {
      return decodeWithHandler(batch, sequence);
    }
    lastCount = WriteBatchReader.count(rep);
    parsedInJava++;
    return parsed;
  }

  /**
   * Returns the record count in the header of the batch that {@link #decode} last returned, which
   * is how many sequence numbers the batch takes. Read along with the records, so that callers do
   * not pay a JNI call for it.
   */
  public int lastCount() {
    return lastCount;
  }

  /** Decodes with the JNI handler; package-private so that tests can compare both ways. */
  List<WalRecord> decodeWithHandler(WriteBatch batch, long sequence) throws RocksDBException {
    lastCount = batch.count();
    records = new ArrayList<>(Math.max(1, lastCount));
    nextSequence = sequence;
    failure = null;
    batch.iterate(this);
    if (failure != null) {
      throw new IllegalStateException(
          "could not decode the write batch at sequence " + sequence + ": " + failure, failure);
    }
    List<WalRecord> decoded = records;
    records = null;
    return decoded;
  }

  private void add(WalRecord.Type type, int columnFamilyId, byte[] key, byte[] value) {
    if (failure != null) {
      return;
    }
    try {
      long sequence = type.counted() ? nextSequence++ : nextSequence;
      records.add(new WalRecord(type, columnFamilyId, key, value, sequence));
    } catch (Throwable t) {
      failure = t;
    }
  }

  @Override
  public boolean shouldContinue() {
    return failure == null;
  }

  @Override
  public void put(int columnFamilyId, byte[] key, byte[] value) {
    add(WalRecord.Type.PUT, columnFamilyId, key, value);
  }

  @Override
  public void put(byte[] key, byte[] value) {
    add(WalRecord.Type.PUT, DEFAULT_COLUMN_FAMILY_ID, key, value);
  }

  @Override
  public void merge(int columnFamilyId, byte[] key, byte[] value) {
    add(WalRecord.Type.MERGE, columnFamilyId, key, value);
  }

  @Override
  public void merge(byte[] key, byte[] value) {
    add(WalRecord.Type.MERGE, DEFAULT_COLUMN_FAMILY_ID, key, value);
  }

  @Override
  public void delete(int columnFamilyId, byte[] key) {
    add(WalRecord.Type.DELETE, columnFamilyId, key, null);
  }

  @Override
  public void delete(byte[] key) {
    add(WalRecord.Type.DELETE, DEFAULT_COLUMN_FAMILY_ID, key, null);
  }

  @Override
  public void singleDelete(int columnFamilyId, byte[] key) {
    add(WalRecord.Type.SINGLE_DELETE, columnFamilyId, key, null);
  }

  @Override
  public void singleDelete(byte[] key) {
    add(WalRecord.Type.SINGLE_DELETE, DEFAULT_COLUMN_FAMILY_ID, key, null);
  }

  @Override
  public void deleteRange(int columnFamilyId, byte[] beginKey, byte[] endKey) {
    add(WalRecord.Type.DELETE_RANGE, columnFamilyId, beginKey, endKey);
  }

  @Override
  public void deleteRange(byte[] beginKey, byte[] endKey) {
    add(WalRecord.Type.DELETE_RANGE, DEFAULT_COLUMN_FAMILY_ID, beginKey, endKey);
  }

  @Override
  public void logData(byte[] blob) {
    // Application annotations: not part of the data.
  }

  @Override
  public void putBlobIndex(int columnFamilyId, byte[] key, byte[] value) {
    add(WalRecord.Type.PUT_BLOB_INDEX, columnFamilyId, key, value);
  }

  @Override
  public void markBeginPrepare() {
    add(WalRecord.Type.BEGIN_PREPARE, -1, NO_KEY, null);
  }

  @Override
  public void markEndPrepare(byte[] xid) {
    add(WalRecord.Type.END_PREPARE, -1, NO_KEY, xid);
  }

  @Override
  public void markNoop(boolean emptyBatch) {
    // Padding RocksDB writes for its own bookkeeping.
  }

  @Override
  public void markRollback(byte[] xid) {
    add(WalRecord.Type.ROLLBACK, -1, NO_KEY, xid);
  }

  @Override
  public void markCommit(byte[] xid) {
    add(WalRecord.Type.COMMIT, -1, NO_KEY, xid);
  }

  @Override
  public void markCommitWithTimestamp(byte[] xid, byte[] commitTimestamp) {
    add(WalRecord.Type.COMMIT, -1, NO_KEY, xid);
  }
}
