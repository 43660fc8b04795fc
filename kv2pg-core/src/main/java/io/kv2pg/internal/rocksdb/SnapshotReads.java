package io.kv2pg.internal.rocksdb;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.Snapshot;

/**
 * Read options that read a snapshot, for a database of either kind. A secondary instance refuses
 * reads at a snapshot ("snapshot not supported in secondary mode"); its snapshot still gives the
 * sequence number, and {@link SecondaryWalSource#refresh()} does not catch up while one is held,
 * so plain reads show exactly the snapshot's state. Thread-safe.
 */
public final class SnapshotReads {
  private static final Set<RocksDB> SECONDARIES =
      Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));

  private SnapshotReads() {}

  /** Returns new read options (the caller closes them) that read {@code snapshot} of {@code database}. */
  public static ReadOptions readOptions(RocksDB database, Snapshot snapshot) {
    ReadOptions options = new ReadOptions();
    if (snapshot != null && !SECONDARIES.contains(database)) {
      options.setSnapshot(snapshot);
    }
    return options;
  }

  static void secondaryOpened(RocksDB database) {
    SECONDARIES.add(database);
  }

  static void secondaryClosed(RocksDB database) {
    SECONDARIES.remove(database);
  }
}
