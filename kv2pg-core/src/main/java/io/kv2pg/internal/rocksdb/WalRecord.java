package io.kv2pg.internal.rocksdb;

/**
 * One record of a write batch, as the write-ahead log holds it.
 *
 * @param type what the record does
 * @param columnFamilyId the column family's id, or -1 for records that belong to none (markers)
 * @param key the key (the range's begin for {@link Type#DELETE_RANGE}); empty for markers
 * @param value the value, the range's end for {@link Type#DELETE_RANGE}, the merge operand for
 *     {@link Type#MERGE}; {@code null} otherwise
 * @param sequence the record's own sequence number
 */
public record WalRecord(Type type, int columnFamilyId, byte[] key, byte[] value, long sequence) {

  /** The kinds of record a write batch can hold. */
  public enum Type {
    PUT("put"),
    DELETE("delete"),
    SINGLE_DELETE("singleDelete"),
    DELETE_RANGE("deleteRange"),
    MERGE("merge"),
    PUT_BLOB_INDEX("putBlobIndex (BlobDB)"),
    BEGIN_PREPARE("two-phase commit prepare"),
    END_PREPARE("two-phase commit prepare"),
    COMMIT("two-phase commit"),
    ROLLBACK("two-phase rollback");

    private final String operation;

    Type(String operation) {
      this.operation = operation;
    }

    /** Returns the RocksDB operation's name, for messages. */
    public String operation() {
      return operation;
    }

    /** Returns whether the record takes a sequence number of its own. */
    boolean counted() {
      return ordinal() <= PUT_BLOB_INDEX.ordinal();
    }
  }
}
