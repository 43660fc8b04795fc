package io.kv2pg.cli;

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
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

/** A real RocksDB on disk, as an application would own it, for the CLI's tests. */
final class TestStore implements AutoCloseable {
  static {
    RocksDB.loadLibrary();
  }

  private final DBOptions options;
  private final ColumnFamilyOptions familyOptions = new ColumnFamilyOptions();
  private final List<ColumnFamilyHandle> handles = new ArrayList<>();
  private final Map<String, ColumnFamilyHandle> byName = new LinkedHashMap<>();
  final RocksDB db;

  private TestStore(Path dir, long walTtlSeconds, String... families) throws RocksDBException {
    options = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true)
        .setWalTtlSeconds(walTtlSeconds);
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
    descriptors.add(new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, familyOptions));
    for (String family : families) {
      descriptors.add(new ColumnFamilyDescriptor(family.getBytes(StandardCharsets.UTF_8), familyOptions));
    }
    db = RocksDB.open(options, dir.toString(), descriptors, handles);
    for (int i = 0; i < descriptors.size(); i++) {
      byName.put(new String(descriptors.get(i).getName(), StandardCharsets.UTF_8), handles.get(i));
    }
  }

  /** Opens (creating if needed) a store that keeps WAL files for an hour. */
  static TestStore open(Path dir, String... families) throws RocksDBException {
    return new TestStore(dir, 3600, families);
  }

  /** Opens a store that deletes obsolete WAL files at once. */
  static TestStore openWithoutWalRetention(Path dir, String... families) throws RocksDBException {
    return new TestStore(dir, 0, families);
  }

  ColumnFamilyHandle family(String name) {
    ColumnFamilyHandle handle = byName.get(name);
    if (handle == null) {
      throw new IllegalArgumentException("no column family " + name);
    }
    return handle;
  }

  Map<String, ColumnFamilyHandle> families() {
    return byName;
  }

  /** Returns every entry of the family whose key starts with the prefix, in key order. */
  List<byte[][]> entries(String family, byte[] prefix) {
    List<byte[][]> entries = new ArrayList<>();
    try (RocksIterator it = db.newIterator(family(family))) {
      for (it.seek(prefix); it.isValid(); it.next()) {
        byte[] key = it.key();
        if (!startsWith(key, prefix)) {
          break;
        }
        entries.add(new byte[][] {key, it.value()});
      }
    }
    return entries;
  }

  private static boolean startsWith(byte[] key, byte[] prefix) {
    if (key.length < prefix.length) {
      return false;
    }
    for (int i = 0; i < prefix.length; i++) {
      if (key[i] != prefix[i]) {
        return false;
      }
    }
    return true;
  }

  @Override
  public void close() {
    handles.forEach(ColumnFamilyHandle::close);
    db.close();
    options.close();
    familyOptions.close();
  }
}
