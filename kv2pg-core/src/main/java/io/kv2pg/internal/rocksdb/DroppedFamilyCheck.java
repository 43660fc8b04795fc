package io.kv2pg.internal.rocksdb;

import io.kv2pg.ReplicationException;
import java.util.Map;
import java.util.Set;
import org.rocksdb.RocksDB;

/**
 * Notices a mapped column family that was dropped from the store. A dropped family takes no more
 * writes, but its handle stays readable, so nothing else would say that the tree is gone. Reads
 * the store's list of families (its MANIFEST), so it runs at most every {@code intervalNanos}.
 * Not thread-safe.
 */
public final class DroppedFamilyCheck {
  private final String path;
  private final Map<String, String> mappingByTree;
  private final long intervalNanos;
  private long lastCheck;

  /**
   * Creates a check.
   *
   * @param mappingByTree the name of a mapping that reads each mapped tree, for messages
   */
  public DroppedFamilyCheck(RocksDB database, Map<String, String> mappingByTree, long intervalNanos) {
    this.path = database.getName();
    this.mappingByTree = Map.copyOf(mappingByTree);
    this.intervalNanos = intervalNanos;
    this.lastCheck = System.nanoTime();
  }

  /** Checks when the interval has passed since the last check. */
  public void maybeCheck() {
    long now = System.nanoTime();
    if (now - lastCheck >= intervalNanos) {
      lastCheck = now;
      check();
    }
  }

  /**
   * Checks now.
   *
   * @throws ReplicationException naming the dropped tree and its mapping
   */
  public void check() {
    Set<String> present = SecondaryWalSource.familyNames(java.nio.file.Path.of(path));
    for (Map.Entry<String, String> tree : mappingByTree.entrySet()) {
      if (!present.contains(tree.getKey())) {
        throw new ReplicationException(ReplicationException.Kind.STORE, "Column family '" + tree.getKey() + "' was dropped from the"
            + " store at " + path + " while mapping '" + tree.getValue() + "' replicates it. Its"
            + " table keeps the rows it had. Remove the mapping, or recreate the tree and reset the mapping"
            + " (kv2pg reset --mapping " + tree.getValue() + ", or ReplicationRecords.reset) so that its"
            + " next start copies it again, replacing the table's rows; then start the replication again.",
            null, tree.getValue(), tree.getKey(), null, -1);
      }
    }
  }
}
