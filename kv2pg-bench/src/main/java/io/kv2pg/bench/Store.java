package io.kv2pg.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.FlushOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/** A RocksDB store on disk, as an application would open it (WAL kept for an hour). */
final class Store implements AutoCloseable {
  static {
    RocksDB.loadLibrary();
  }

  final Path dir;
  final RocksDB db;
  final ColumnFamilyHandle family;
  private final DBOptions options;
  private final ColumnFamilyOptions familyOptions = new ColumnFamilyOptions();
  private final List<ColumnFamilyHandle> handles = new ArrayList<>();
  private final WriteOptions writeOptions = new WriteOptions();

  /** Opens (creating) a store with one column family, {@code data}. */
  Store(Path dir) throws RocksDBException {
    this.dir = dir;
    options = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true)
        .setWalTtlSeconds(3600);
    List<ColumnFamilyDescriptor> descriptors = List.of(
        new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, familyOptions),
        new ColumnFamilyDescriptor("data".getBytes(StandardCharsets.UTF_8), familyOptions));
    db = RocksDB.open(options, dir.toString(), descriptors, handles);
    family = handles.get(1);
  }

  /**
   * Opens a fresh store in {@code dir} holding entries 0..base-1, and a table already in step with
   * it (raw COPY of {@code baseRows}), for a baseline that has no initial copy of its own.
   */
  static Store inStepWithTable(Path dir, Pg pg, Rows.Kind kind, long base, String table,
      List<byte[]> baseRows) throws RocksDBException, java.sql.SQLException {
    delete(dir);
    Store store = new Store(dir);
    try {
      store.load(kind, base);
      pg.execute(kind.createSql(table));
      try (java.sql.Connection connection = pg.connect()) {
        RawCopy.copy(connection, kind, table, baseRows);
      }
      pg.settle();
      return store;
    } catch (RocksDBException | java.sql.SQLException | RuntimeException e) {
      store.close();
      throw e;
    }
  }

  /** Writes entries 0..count-1 at version 0, in large batches without the WAL, then flushes. */
  void load(Rows.Kind kind, long count) throws RocksDBException {
    load(kind, 0, count);
  }

  /** Writes entries first..first+count-1 at version 0, in large batches without the WAL, then flushes. */
  void load(Rows.Kind kind, long first, long count) throws RocksDBException {
    try (WriteOptions bulk = new WriteOptions().setDisableWAL(true)) {
      long id = first;
      long end = first + count;
      while (id < end) {
        try (WriteBatch batch = new WriteBatch()) {
          for (int i = 0; i < 10_000 && id < end; i++, id++) {
            batch.put(family, Rows.key(id), kind.value(id, 0));
          }
          db.write(bulk, batch);
        }
      }
    }
    try (FlushOptions flush = new FlushOptions().setWaitForFlush(true)) {
      db.flush(flush, family);
    }
  }

  void put(long id, byte[] value) throws RocksDBException {
    db.put(family, writeOptions, Rows.key(id), value);
  }

  void delete(long id) throws RocksDBException {
    db.delete(family, writeOptions, Rows.key(id));
  }

  /** Returns the checksum of the entries, as {@link Checksum#ofTable} computes it for a table. */
  Checksum checksum(Rows.Kind kind) {
    Checksum sum = new Checksum(kind);
    try (RocksIterator it = db.newIterator(family)) {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        sum.addEntry(Rows.id(it.key()), it.value());
      }
    }
    return sum;
  }

  @Override
  public void close() {
    handles.forEach(ColumnFamilyHandle::close);
    db.close();
    options.close();
    familyOptions.close();
    writeOptions.close();
  }

  static void delete(Path dir) {
    if (dir == null || !Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
