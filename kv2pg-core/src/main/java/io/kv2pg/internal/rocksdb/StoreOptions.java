package io.kv2pg.internal.rocksdb;

import io.kv2pg.ReplicationException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.ConfigOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.Options;
import org.rocksdb.OptionsUtil;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;

/**
 * The options of a store that another process owns, read from its newest {@code OPTIONS} file, and
 * its column families, read from its MANIFEST. Reads files only: never opens the store, never
 * writes in its folder.
 *
 * <p>Unknown options are ignored, since the primary may be an older or newer RocksDB than
 * rocksdbjni's (a 7.8 primary's file lacks newer options, a newer one has options 7.8 lacks).
 *
 * <p>Owns native option objects until {@link #close()}. Not thread-safe.
 */
final class StoreOptions implements AutoCloseable {
  /** The primary's WAL retention, as its newest OPTIONS file says. */
  record Retention(long ttlSeconds, long sizeLimitMb) {}

  final DBOptions dbOptions;
  /** Every column family the store has, in MANIFEST order; the default one first. */
  final List<ColumnFamilyDescriptor> families;

  private StoreOptions(DBOptions dbOptions, List<ColumnFamilyDescriptor> families) {
    this.dbOptions = dbOptions;
    this.families = families;
  }

  static {
    RocksDB.loadLibrary();
  }

  /** Reads the WAL retention from the store's newest OPTIONS file. */
  static Retention retention(Path storeDir) {
    checkFolder(storeDir);
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
    try (ConfigOptions config = new ConfigOptions().setIgnoreUnknownOptions(true);
        DBOptions options = new DBOptions()) {
      OptionsUtil.loadLatestOptions(config, storeDir.toString(), options, descriptors);
      return new Retention(options.walTtlSeconds(), options.walSizeLimitMB());
    } catch (RocksDBException e) {
      throw unreadable(storeDir, e);
    } finally {
      descriptors.forEach(descriptor -> descriptor.getOptions().close());
    }
  }

  /**
   * Reads the options and the column families of the store.
   *
   * @throws ReplicationException if the folder is not a RocksDB store or its files cannot be read
   */
  static StoreOptions read(Path storeDir) {
    checkFolder(storeDir);
    DBOptions options = new DBOptions();
    List<ColumnFamilyDescriptor> fromFile = new ArrayList<>();
    try (ConfigOptions config = new ConfigOptions().setIgnoreUnknownOptions(true)) {
      OptionsUtil.loadLatestOptions(config, storeDir.toString(), options, fromFile);
    } catch (RocksDBException e) {
      fromFile.forEach(descriptor -> descriptor.getOptions().close());
      options.close();
      throw unreadable(storeDir, e);
    }
    Map<String, ColumnFamilyOptions> optionsByName = new HashMap<>();
    fromFile.forEach(descriptor -> optionsByName.put(name(descriptor.getName()), descriptor.getOptions()));
    List<byte[]> names;
    try (Options listing = new Options()) {
      names = RocksDB.listColumnFamilies(listing, storeDir.toString());
    } catch (RocksDBException e) {
      fromFile.forEach(descriptor -> descriptor.getOptions().close());
      options.close();
      throw new ReplicationException(ReplicationException.Kind.STORE, "Cannot list the column families of the"
          + " RocksDB store at " + storeDir + ": " + e.getMessage(), e);
    }
    List<ColumnFamilyDescriptor> families = new ArrayList<>();
    for (byte[] name : names) {
      ColumnFamilyOptions familyOptions = optionsByName.remove(name(name));
      families.add(new ColumnFamilyDescriptor(name,
          familyOptions != null ? familyOptions : new ColumnFamilyOptions()));
    }
    optionsByName.values().forEach(ColumnFamilyOptions::close); // Families dropped since the file was written.
    return new StoreOptions(options, families);
  }

  static String name(byte[] familyName) {
    return new String(familyName, StandardCharsets.UTF_8);
  }

  private static void checkFolder(Path storeDir) {
    if (!Files.isDirectory(storeDir)) {
      throw new ReplicationException(ReplicationException.Kind.CONFIGURATION, "There is no RocksDB store at "
          + storeDir + ": " + (Files.exists(storeDir) ? "it is a file, not a folder" : "the folder does not exist")
          + ". Give the folder that the store's owner opens.", null);
    }
    if (!Files.exists(storeDir.resolve("CURRENT"))) {
      throw new ReplicationException(ReplicationException.Kind.CONFIGURATION, "There is no RocksDB store at "
          + storeDir + ": the folder has no CURRENT file. Give the folder that the store's owner opens.", null);
    }
  }

  private static ReplicationException unreadable(Path storeDir, RocksDBException e) {
    return new ReplicationException(ReplicationException.Kind.CONFIGURATION, "Cannot read the newest OPTIONS file"
        + " of the RocksDB store at " + storeDir + " (" + e.getMessage() + "): kv2pg needs it to open the store"
        + " read-only with its owner's options and to check that it keeps its WAL files"
        + " (WAL_ttl_seconds or WAL_size_limit_MB).", e);
  }

  @Override
  public void close() {
    families.forEach(descriptor -> descriptor.getOptions().close());
    dbOptions.close();
  }
}
