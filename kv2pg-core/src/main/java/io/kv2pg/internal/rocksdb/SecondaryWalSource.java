package io.kv2pg.internal.rocksdb;

import io.kv2pg.ReplicationException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.Snapshot;
import org.rocksdb.TransactionLogIterator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A store that another process owns, followed as a RocksDB secondary instance: opened read-only
 * with the primary's options (its newest OPTIONS file), its own files (info log) in a folder of its
 * own, and brought up to date by {@code tryCatchUpWithPrimary()} before each poll. Nothing is ever
 * written in the store's folder.
 *
 * <p>Every table file stays open ({@code max_open_files = -1}), opened by one thread ({@code
 * max_file_opening_threads = 1}: the default 16 cost a whole core), so that files the primary
 * deletes after a compaction stay readable to what reads them.
 *
 * <p>Snapshots: a secondary refuses reads at a snapshot, and its snapshot would not hide what a
 * later catch-up brings in, so {@link #refresh()} does not catch up while a snapshot is held (the
 * initial copy, a verification): reads, made without the snapshot ({@link SnapshotReads}), then
 * show the state of the last catch-up, which is the snapshot's, and stay fixed.
 *
 * <p>Concurrency: {@link #refresh()} and {@link #updatesSince} are called by the reader thread;
 * {@link #latestSequence()} by any thread, safe against {@link #close()}, which is called once,
 * after the reader has ended.
 */
public final class SecondaryWalSource implements WalSource {
  private static final Logger LOG = LoggerFactory.getLogger(SecondaryWalSource.class);

  private final Path storeDir;
  private final Path followerDir;
  private final boolean temporary;
  private final StoreOptions options;
  private final RocksDB database;
  private final List<ColumnFamilyHandle> handles;
  private final Map<String, ColumnFamilyHandle> families;
  private final Object lock = new Object();
  /** Held while catching up and while taking a snapshot. */
  private final Object catchUp = new Object();
  private boolean closed;

  private SecondaryWalSource(Path storeDir, Path followerDir, boolean temporary, StoreOptions options,
      RocksDB database, List<ColumnFamilyHandle> handles) {
    this.storeDir = storeDir;
    this.followerDir = followerDir;
    this.temporary = temporary;
    this.options = options;
    this.database = database;
    this.handles = handles;
    Map<String, ColumnFamilyHandle> byName = new LinkedHashMap<>();
    for (int i = 0; i < handles.size(); i++) {
      byName.put(StoreOptions.name(options.families.get(i).getName()), handles.get(i));
    }
    this.families = Collections.unmodifiableMap(byName);
  }

  /**
   * Opens the store in {@code storeDir} as a secondary instance and catches up with its primary.
   *
   * @param followerDir the folder for the secondary's own files, created if missing; {@code null}
   *     for a temporary folder, deleted by {@link #close()}
   * @throws ReplicationException if the store cannot be read or opened
   */
  public static SecondaryWalSource open(Path storeDir, Path followerDir) {
    Path folder;
    boolean temporary = followerDir == null;
    try {
      folder = temporary ? Files.createTempDirectory("kv2pg-follower-") : Files.createDirectories(followerDir);
    } catch (IOException e) {
      throw new ReplicationException(ReplicationException.Kind.CONFIGURATION, "Cannot create the follower's"
          + " folder " + (followerDir == null ? "(a temporary one)" : followerDir) + ": " + e, e);
    }
    StoreOptions options;
    try {
      options = StoreOptions.read(storeDir);
    } catch (RuntimeException e) {
      deleteIfTemporary(folder, temporary);
      throw e;
    }
    options.dbOptions
        .setCreateIfMissing(false)
        .setCreateMissingColumnFamilies(false)
        .setMaxOpenFiles(-1)
        .setMaxFileOpeningThreads(1)
        .setDbLogDir(""); // The secondary's info log goes to its own folder.
    List<ColumnFamilyHandle> handles = new ArrayList<>();
    RocksDB database;
    try {
      database = RocksDB.openAsSecondary(options.dbOptions, storeDir.toString(), folder.toString(),
          options.families, handles);
    } catch (RocksDBException e) {
      options.close();
      deleteIfTemporary(folder, temporary);
      throw new ReplicationException(ReplicationException.Kind.STORE, "Cannot open the RocksDB store at "
          + storeDir + " as a secondary instance: " + e.getMessage(), e);
    }
    SnapshotReads.secondaryOpened(database);
    SecondaryWalSource source = new SecondaryWalSource(storeDir, folder, temporary, options, database, handles);
    try {
      database.tryCatchUpWithPrimary();
    } catch (RocksDBException e) {
      source.close();
      throw new ReplicationException(ReplicationException.Kind.STORE, "Cannot catch up with the primary of the"
          + " RocksDB store at " + storeDir + ": " + e.getMessage(), e);
    }
    LOG.debug("kv2pg: following {} as a secondary instance in {}", storeDir, folder);
    return source;
  }

  /**
   * Returns the names of the column families the store has now, read from its MANIFEST without
   * opening it (nothing is written).
   *
   * @throws ReplicationException if the store's MANIFEST cannot be read
   */
  public static java.util.Set<String> familyNames(Path storeDir) {
    try (org.rocksdb.Options listing = new org.rocksdb.Options()) {
      java.util.Set<String> names = new java.util.TreeSet<>();
      for (byte[] name : RocksDB.listColumnFamilies(listing, storeDir.toString())) {
        names.add(StoreOptions.name(name));
      }
      return names;
    } catch (RocksDBException e) {
      throw new ReplicationException(ReplicationException.Kind.STORE, "Cannot list the column families of the"
          + " RocksDB store at " + storeDir + ": " + e.getMessage(), e);
    }
  }

  /** Returns the open column families by name. */
  public Map<String, ColumnFamilyHandle> families() {
    return families;
  }

  /** Returns the folder of the secondary's own files. */
  public Path followerDir() {
    return followerDir;
  }

  @Override
  public RocksDB database() {
    return database;
  }

  @Override
  public Snapshot snapshot() {
    synchronized (catchUp) { // Not in the middle of a catch-up that would move past the snapshot.
      return database.getSnapshot();
    }
  }

  @Override
  public void refresh() throws RocksDBException {
    synchronized (catchUp) {
      if (!closed() && !snapshotHeld()) {
        database.tryCatchUpWithPrimary();
      }
    }
  }

  @Override
  public long writesSoFar() {
    synchronized (catchUp) {
      if (closed()) {
        return latestSequence(); // Throws.
      }
      if (snapshotHeld()) {
        return -1;
      }
      try {
        database.tryCatchUpWithPrimary();
      } catch (RocksDBException e) {
        throw new ReplicationException(ReplicationException.Kind.STORE, "Cannot catch up with the primary of"
            + " the RocksDB store at " + storeDir + ": " + e.getMessage(), e);
      }
      return database.getLatestSequenceNumber();
    }
  }

  /** Whether a snapshot is being read: then the state it shows is kept. */
  private boolean snapshotHeld() {
    try {
      return database.getLongProperty("rocksdb.num-snapshots") > 0;
    } catch (RocksDBException e) {
      throw new ReplicationException(ReplicationException.Kind.STORE, "Cannot read the snapshots of the"
          + " follower of " + storeDir + ": " + e.getMessage(), e);
    }
  }

  private boolean closed() {
    synchronized (lock) {
      return closed;
    }
  }

  @Override
  public long latestSequence() {
    synchronized (lock) {
      if (closed) {
        throw new ReplicationException(ReplicationException.Kind.STORE, "The follower of the RocksDB store at "
            + storeDir + " was closed.", null);
      }
      return database.getLatestSequenceNumber();
    }
  }

  @Override
  public TransactionLogIterator updatesSince(long sequence) throws RocksDBException {
    return database.getUpdatesSince(sequence);
  }

  @Override
  public String describe() {
    return storeDir + " (followed as a secondary instance)";
  }

  @Override
  public void close() {
    synchronized (catchUp) {
      synchronized (lock) {
        if (closed) {
          return;
        }
        closed = true;
      }
      SnapshotReads.secondaryClosed(database);
      handles.forEach(ColumnFamilyHandle::close);
      database.close();
    }
    options.close();
    deleteIfTemporary(followerDir, temporary);
  }

  private static void deleteIfTemporary(Path folder, boolean temporary) {
    if (!temporary) {
      return;
    }
    try (Stream<Path> files = Files.walk(folder)) {
      for (Path file : (Iterable<Path>) files.sorted(Comparator.reverseOrder())::iterator) {
        Files.deleteIfExists(file);
      }
    } catch (IOException | UncheckedIOException e) {
      LOG.warn("kv2pg: could not delete the follower's temporary folder {}: {}", folder, e.toString());
    }
  }
}
