package io.kv2pg.internal.rocksdb;

import io.kv2pg.ReplicationException;
import org.rocksdb.RocksDB;

/**
 * Guards native calls against a store the application already closed: rocksdbjni does not check,
 * and a call on a closed database crashes the JVM. The guard narrows that window to a race; the
 * contract stays "stop the replication before closing the store".
 */
final class StoreClosed {
  private StoreClosed() {}

  static void check(RocksDB database) {
    if (!database.isOwningHandle()) {
      throw new ReplicationException(ReplicationException.Kind.STORE, "The RocksDB store was closed while kv2pg was reading it."
          + " Stop the replication (RunningReplication.stop() or close()) before closing the store;"
          + " the next start resumes after the last commit.", null);
    }
  }
}
