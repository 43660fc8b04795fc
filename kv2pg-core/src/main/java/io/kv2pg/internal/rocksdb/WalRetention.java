package io.kv2pg.internal.rocksdb;

import io.kv2pg.ReplicationException;
import java.util.ArrayList;
import java.util.List;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ConfigOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.OptionsUtil;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks that the store keeps its write-ahead log files after it no longer needs them itself, so
 * that writes made while kv2pg is stopped can still be read.
 *
 * <p>An open database does not report its WAL retention through {@code getDBOptions()} (only
 * mutable options are there), so this reads the latest OPTIONS file of the database folder.
 */
public final class WalRetention {
  private static final Logger LOG = LoggerFactory.getLogger(WalRetention.class);

  private WalRetention() {}

  /**
   * Throws when the store in {@code storeDir}, which another process may own, deletes obsolete WAL
   * files at once, reading only its newest OPTIONS file: nothing is opened, nothing is written.
   *
   * @param logName the replication's name, for log lines
   * @throws ReplicationException naming the options to set, or if the folder holds no readable
   *     OPTIONS file
   */
  public static void checkFolder(java.nio.file.Path storeDir, String logName) {
    StoreOptions.Retention retention = StoreOptions.retention(storeDir);
    if (retention.ttlSeconds() == 0 && retention.sizeLimitMb() == 0) {
      throw missing(storeDir.toString());
    }
    LOG.debug("kv2pg[{}]: WAL retention of {}: WAL_ttl_seconds={}, WAL_size_limit_MB={}",
        logName, storeDir, retention.ttlSeconds(), retention.sizeLimitMb());
  }

  private static ReplicationException missing(String path) {
    return new ReplicationException(ReplicationException.Kind.CONFIGURATION,
        "The RocksDB store at " + path + " deletes write-ahead log files as soon as it no longer"
            + " needs them (WAL_ttl_seconds = 0 and WAL_size_limit_MB = 0), so writes made while"
            + " kv2pg is stopped or behind would be lost. Open the store with WAL archiving, for"
            + " example new DBOptions().setWalTtlSeconds(86400) to keep WAL files for a day"
            + " (or setWalSizeLimitMB(n) to keep up to n MiB), longer than kv2pg may be stopped.",
        null);
  }

  /**
   * Throws when the store deletes obsolete WAL files at once.
   *
   * @param logName the replication's name, for log lines
   * @throws ReplicationException naming the options to set
   */
  public static void check(RocksDB database, String logName) {
    String path = database.getName();
    long ttlSeconds;
    long sizeLimitMb;
    List<ColumnFamilyDescriptor> families = new ArrayList<>();
    try (ConfigOptions config = new ConfigOptions().setIgnoreUnknownOptions(true);
        DBOptions options = new DBOptions()) {
      OptionsUtil.loadLatestOptions(config, path, options, families);
      ttlSeconds = options.walTtlSeconds();
      sizeLimitMb = options.walSizeLimitMB();
    } catch (RocksDBException e) {
      LOG.warn("kv2pg[{}]: cannot read the OPTIONS file of {} to check WAL retention ({}); make sure"
          + " WAL_ttl_seconds or WAL_size_limit_MB is set", logName, path, e.getMessage());
      return;
    } finally {
      families.forEach(family -> family.getOptions().close());
    }
    if (ttlSeconds == 0 && sizeLimitMb == 0) {
      throw missing(path);
    }
    LOG.debug("kv2pg[{}]: WAL retention of {}: WAL_ttl_seconds={}, WAL_size_limit_MB={}",
        logName, path, ttlSeconds, sizeLimitMb);
  }
}
