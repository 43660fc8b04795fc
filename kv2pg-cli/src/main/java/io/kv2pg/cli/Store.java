package io.kv2pg.cli;

import io.kv2pg.ReplicationException;
import io.kv2pg.internal.rocksdb.SecondaryWalSource;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.ConfigOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.OptionsUtil;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;

/**
 * A RocksDB store the CLI opens with the store's own options (its latest OPTIONS file, so that WAL
 * retention, merge operators and table options stay what the application set), either as the
 * primary (for {@code sync}) or as a read-only secondary instance that follows a primary another
 * process owns (for {@code verify}).
 */
final class Store implements AutoCloseable {
  static {
    RocksDB.loadLibrary();
  }

  final Path path;
  final RocksDB db;
  final Map<String, ColumnFamilyHandle> families;
  private final DBOptions options;
  private final List<ColumnFamilyDescriptor> descriptors;
  private final List<ColumnFamilyHandle> handles;
  private final Path temporarySecondary;
  /** The shutdown hook that deletes {@link #temporarySecondary} if the JVM ends before {@link #close()}. */
  private final Thread cleanup;

  private Store(Path path, RocksDB db, DBOptions options, List<ColumnFamilyDescriptor> descriptors,
      List<ColumnFamilyHandle> handles, Path temporarySecondary, Thread cleanup) {
    this.path = path;
    this.db = db;
    this.options = options;
    this.descriptors = descriptors;
    this.handles = handles;
    this.temporarySecondary = temporarySecondary;
    this.cleanup = cleanup;
    Map<String, ColumnFamilyHandle> byName = new LinkedHashMap<>();
    for (int i = 0; i < descriptors.size(); i++) {
      byName.put(new String(descriptors.get(i).getName(), StandardCharsets.UTF_8), handles.get(i));
    }
    this.families = byName;
  }

  /**
   * Opens the store as its primary, which needs that no other process has it open.
   *
   * @param where where the path was given, for messages
   * @throws CliException with exit code 2 if the store is missing or in use
   */
  static Store openPrimary(Path path, String where) {
    checkExists(path, where);
    DBOptions options = new DBOptions();
    List<ColumnFamilyDescriptor> descriptors = loadOptions(path, options, where);
    options.setCreateIfMissing(false).setCreateMissingColumnFamilies(false);
    List<ColumnFamilyHandle> handles = new ArrayList<>();
    try {
      RocksDB db = RocksDB.open(options, path.toString(), descriptors, handles);
      return new Store(path, db, options, descriptors, handles, null, null);
    } catch (RocksDBException e) {
      closeAll(options, descriptors);
      if (isLocked(e)) {
        throw new CliException(Main.USAGE, "the RocksDB store at " + path + " is in use by another process"
            + " (its LOCK file is held). Stop the application that owns it before 'kv2pg sync';"
            + " 'kv2pg verify' can read a store that is in use.", e);
      }
      throw new CliException(Main.USAGE, "cannot open the RocksDB store at " + path + " (" + where + "): "
          + e.getMessage(), e);
    }
  }

  /**
   * Opens the store as a secondary instance: read-only, allowed while another process owns the
   * store, and brought up to date with {@link #catchUp()}.
   *
   * <p>A temporary folder is deleted by {@link #close()}, by this method if it fails, and by a
   * shutdown hook if the JVM ends first (Ctrl-C, SIGTERM, {@code System.exit}).
   *
   * @param secondaryPath the folder for the secondary's own files, or {@code null} for a temporary one
   */
  static Store openSecondary(Path path, Path secondaryPath, String where) {
    checkExists(path, where);
    // Registered before the folder exists, so that no signal finds the folder without its hook.
    AtomicReference<Path> temporary = new AtomicReference<>();
    Thread cleanup = new Thread(() -> deleteTree(temporary.get()), "kv2pg-secondary-cleanup");
    if (secondaryPath == null) {
      Runtime.getRuntime().addShutdownHook(cleanup);
    }
    try {
      Path folder;
      try {
        if (secondaryPath == null) {
          temporary.set(Files.createTempDirectory("kv2pg-secondary-"));
          folder = temporary.get();
        } else {
          Files.createDirectories(secondaryPath);
          folder = secondaryPath;
        }
      } catch (IOException e) {
        throw new CliException(Main.USAGE, "cannot create the folder for the secondary instance: " + e, e);
      }
      DBOptions options = new DBOptions();
      List<ColumnFamilyDescriptor> descriptors = loadOptions(path, options, where);
      // Every file open at once, opened by one thread: the default 16 threads cost a whole core.
      options.setCreateIfMissing(false).setMaxOpenFiles(-1).setMaxFileOpeningThreads(1);
      List<ColumnFamilyHandle> handles = new ArrayList<>();
      RocksDB db;
      try {
        db = RocksDB.openAsSecondary(options, path.toString(), folder.toString(), descriptors, handles);
      } catch (RocksDBException e) {
        closeAll(options, descriptors);
        throw new CliException(Main.USAGE, "cannot open the RocksDB store at " + path + " (" + where
            + ") as a secondary instance: " + e.getMessage(), e);
      }
      Store store = new Store(path, db, options, descriptors, handles, temporary.get(),
          secondaryPath == null ? cleanup : null);
      try {
        store.catchUp();
      } catch (RocksDBException | RuntimeException e) {
        store.close();
        throw new CliException(Main.USAGE, "cannot read the RocksDB store at " + path + " (" + where
            + ") as a secondary instance: " + e.getMessage(), e);
      }
      return store;
    } catch (RuntimeException | Error e) {
      deleteTree(temporary.get());
      if (secondaryPath == null) {
        removeHook(cleanup);
      }
      throw e;
    }
  }

  /** Makes the primary's latest writes visible (secondary only). */
  void catchUp() throws RocksDBException {
    db.tryCatchUpWithPrimary();
  }

  /** Estimates how many entries the named families hold (RocksDB's estimate). */
  long estimateEntries(Iterable<String> familyNames) {
    long total = 0;
    for (String name : familyNames) {
      ColumnFamilyHandle family = families.get(name);
      if (family == null) {
        continue;
      }
      try {
        total += db.getLongProperty(family, "rocksdb.estimate-num-keys");
      } catch (RocksDBException e) {
        // An estimate only.
      }
    }
    return total;
  }

  static void checkExists(Path path, String where) {
    if (Files.exists(path) && !Files.isDirectory(path)) {
      throw new CliException(Main.USAGE, "there is no RocksDB store at " + path + " (" + where
          + "): it is a file, not a folder; give the store's folder, the one the application opens");
    }
    if (!Files.isDirectory(path)) {
      throw new CliException(Main.USAGE, "there is no RocksDB store at " + path + " (" + where
          + "): the folder does not exist");
    }
    if (!Files.exists(path.resolve("CURRENT"))) {
      throw new CliException(Main.USAGE, "there is no RocksDB store at " + path + " (" + where
          + "): the folder has no CURRENT file");
    }
  }

  /**
   * Checks that the store exists and has every column family the config names, reading only its
   * files (nothing is opened, nothing written).
   *
   * @throws CliException with exit code 2 if the store is missing
   * @throws ConfigException if a table names a column family the store does not have
   */
  static void checkReadOnly(ReplicationConfig config) {
    checkReadOnly(config, true);
  }

  /**
   * Checks, reading the store's MANIFEST only, that the store exists and, if {@code families}, that
   * it has every column family the config names ({@code follow} waits for missing ones instead).
   */
  static void checkReadOnly(ReplicationConfig config, boolean families) {
    String where = Replications.where(config);
    checkExists(config.store(), where);
    Set<String> names;
    try {
      names = SecondaryWalSource.familyNames(config.store());
    } catch (ReplicationException e) {
      throw new CliException(Main.USAGE, e.getMessage() + " (" + where + ")", e);
    }
    if (families) {
      config.checkFamilies(names);
    }
  }

  private static List<ColumnFamilyDescriptor> loadOptions(Path path, DBOptions options, String where) {
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
    try (ConfigOptions config = new ConfigOptions().setIgnoreUnknownOptions(true)) {
      OptionsUtil.loadLatestOptions(config, path.toString(), options, descriptors);
      return descriptors;
    } catch (RocksDBException e) {
      // No OPTIONS file (a very old store): open every column family with default options.
      descriptors.forEach(descriptor -> descriptor.getOptions().close());
      descriptors.clear();
      try (org.rocksdb.Options listing = new org.rocksdb.Options()) {
        for (byte[] name : RocksDB.listColumnFamilies(listing, path.toString())) {
          descriptors.add(new ColumnFamilyDescriptor(name, new ColumnFamilyOptions()));
        }
        return descriptors;
      } catch (RocksDBException listError) {
        options.close();
        throw new CliException(Main.USAGE, "cannot read the RocksDB store at " + path + " (" + where + "): "
            + listError.getMessage(), listError);
      }
    }
  }

  private static boolean isLocked(RocksDBException e) {
    String message = String.valueOf(e.getMessage()).toLowerCase(java.util.Locale.ROOT);
    return message.contains("lock");
  }

  private static void closeAll(DBOptions options, List<ColumnFamilyDescriptor> descriptors) {
    descriptors.forEach(descriptor -> descriptor.getOptions().close());
    options.close();
  }

  static void deleteTree(Path folder) {
    if (folder == null || !Files.exists(folder)) {
      return;
    }
    try (Stream<Path> files = Files.walk(folder)) {
      files.sorted(Comparator.reverseOrder()).forEach(file -> {
        try {
          Files.deleteIfExists(file);
        } catch (IOException e) {
          // Best effort: a temporary folder.
        }
      });
    } catch (IOException e) {
      // Best effort.
    }
  }

  @Override
  public void close() {
    handles.forEach(ColumnFamilyHandle::close);
    db.close();
    closeAll(options, descriptors);
    deleteTree(temporarySecondary);
    if (cleanup != null) {
      removeHook(cleanup);
    }
  }

  private static void removeHook(Thread hook) {
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // The JVM is shutting down: the hook runs (or ran) anyway.
    }
  }
}
