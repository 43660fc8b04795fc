package io.kv2pg;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.OptimisticTransactionDB;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.TransactionDB;
import org.rocksdb.TransactionDBOptions;

/**
 * A real RocksDB on disk with WAL archiving on and named column families (each with the {@code
 * stringappend} merge operator), for tests.
 */
public final class TestStore implements AutoCloseable {
  static {
    RocksDB.loadLibrary();
  }

  private final DBOptions options;
  /** Every family has the "stringappend" merge operator, so that tests can write merge records. */
  private final ColumnFamilyOptions familyOptions =
      new ColumnFamilyOptions().setMergeOperatorName("stringappend");
  private final List<ColumnFamilyHandle> handles = new ArrayList<>();
  private final Map<String, ColumnFamilyHandle> byName = new LinkedHashMap<>();
  /** Only for a store opened as a {@link TransactionDB}. */
  private TransactionDBOptions transactionOptions;
  /** The store; a {@link TransactionDB} or an {@link OptimisticTransactionDB} when opened as one. */
  public final RocksDB db;

  /** How the store is opened. */
  private enum Kind { PLAIN, TRANSACTION_DB, OPTIMISTIC_TRANSACTION_DB }

  private TestStore(Path dir, long walTtlSeconds, String... families) throws RocksDBException {
    this(Kind.PLAIN, dir, walTtlSeconds, families);
  }

  private TestStore(Kind kind, Path dir, long walTtlSeconds, String... families) throws RocksDBException {
    options = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true)
        .setWalTtlSeconds(walTtlSeconds);
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
    descriptors.add(new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, familyOptions));
    for (String family : families) {
      descriptors.add(new ColumnFamilyDescriptor(family.getBytes(StandardCharsets.UTF_8), familyOptions));
    }
    db = switch (kind) {
      case PLAIN -> RocksDB.open(options, dir.toString(), descriptors, handles);
      case TRANSACTION_DB -> TransactionDB.open(options, transactionOptions = new TransactionDBOptions(),
          dir.toString(), descriptors, handles);
      case OPTIMISTIC_TRANSACTION_DB -> OptimisticTransactionDB.open(options, dir.toString(), descriptors, handles);
    };
    for (int i = 0; i < descriptors.size(); i++) {
      byName.put(new String(descriptors.get(i).getName(), StandardCharsets.UTF_8), handles.get(i));
    }
  }

  /** Opens (creating if needed) a store that keeps WAL files for an hour. */
  public static TestStore open(Path dir, String... families) throws RocksDBException {
    return new TestStore(dir, 3600, families);
  }

  /** Opens (creating if needed) a store that keeps WAL files for {@code walTtlSeconds}. */
  public static TestStore openWithWalTtl(Path dir, long walTtlSeconds, String... families) throws RocksDBException {
    return new TestStore(dir, walTtlSeconds, families);
  }

  /** Opens a store that deletes obsolete WAL files at once. */
  public static TestStore openWithoutWalRetention(Path dir, String... families) throws RocksDBException {
    return new TestStore(dir, 0, families);
  }

  /** Opens (creating if needed) a store as a pessimistic {@link TransactionDB}, WAL kept an hour. */
  public static TestStore openTransactionDb(Path dir, String... families) throws RocksDBException {
    return new TestStore(Kind.TRANSACTION_DB, dir, 3600, families);
  }

  /** Opens (creating if needed) a store as an {@link OptimisticTransactionDB}, WAL kept an hour. */
  public static TestStore openOptimisticTransactionDb(Path dir, String... families) throws RocksDBException {
    return new TestStore(Kind.OPTIMISTIC_TRANSACTION_DB, dir, 3600, families);
  }

  public ColumnFamilyHandle family(String name) {
    ColumnFamilyHandle handle = byName.get(name);
    if (handle == null) {
      throw new IllegalArgumentException("no column family " + name);
    }
    return handle;
  }

  /** Returns every column family by name, the default one included. */
  public Map<String, ColumnFamilyHandle> families() {
    return Map.copyOf(byName);
  }

  /** Returns every entry of the family whose key starts with the prefix, in key order. */
  public List<byte[][]> entries(String family, byte[] prefix) {
    List<byte[][]> entries = new ArrayList<>();
    try (RocksIterator it = db.newIterator(family(family))) {
      for (it.seek(prefix); it.isValid(); it.next()) {
        byte[] key = it.key();
        if (!io.kv2pg.internal.rocksdb.SnapshotScan.startsWith(key, prefix)) {
          break;
        }
        entries.add(new byte[][] {key, it.value()});
      }
    }
    return entries;
  }

  @Override
  public void close() {
    for (ColumnFamilyHandle handle : handles) {
      handle.close();
    }
    db.close();
    options.close();
    familyOptions.close();
    if (transactionOptions != null) {
      transactionOptions.close();
    }
  }
}
