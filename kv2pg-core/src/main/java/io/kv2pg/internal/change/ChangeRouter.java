package io.kv2pg.internal.change;

import io.kv2pg.ReplicationException;
import io.kv2pg.internal.rocksdb.SnapshotScan;
import io.kv2pg.internal.rocksdb.WalBatch;
import io.kv2pg.internal.rocksdb.WalRecord;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Turns write-ahead log batches into changes for the tree mappings whose column family and prefix
 * each record matches. Records of trees that no mapping reads are left out; a record that a
 * mapped tree cannot replicate fails loudly. Immutable and thread-safe.
 */
public final class ChangeRouter {
  private final Map<Integer, List<Route>> routesByFamily = new HashMap<>();
  private final Map<Route, CopiedRange> copiedRanges;
  private final ValueReader values;

  /** Reads a key's current value back from the store, for merge operands. */
  @FunctionalInterface
  public interface ValueReader {
    /** Returns the key's value now, or {@code null} if it has none. */
    byte[] read(int columnFamilyId, byte[] key);
  }

  /**
   * Creates a router.
   *
   * @param copiedRanges per route (of {@code routes}), the keys this run's initial copy reads
   * @param values reads merged values back from the store
   */
  public ChangeRouter(List<Route> routes, Map<Route, CopiedRange> copiedRanges, ValueReader values) {
    this.copiedRanges = Map.copyOf(copiedRanges);
    this.values = values;
    for (Route route : routes) {
      routesByFamily.computeIfAbsent(route.columnFamilyId(), id -> new ArrayList<>()).add(route);
    }
  }

  /**
   * Returns the batch's changes for the mapped trees.
   *
   * @throws ReplicationException for a write that kv2pg cannot replicate, naming it
   */
  public ChangeBatch route(WalBatch batch) {
    List<Change> changes = new ArrayList<>();
    long weight = 64; // Batches without mapped changes count too, or they would escape the bound.
    for (WalRecord record : batch.records()) {
      List<Route> routes = routesByFamily.get(record.columnFamilyId());
      if (routes == null) {
        if (record.columnFamilyId() < 0) {
          throw unsupported(record, null);
        }
        continue;
      }
      for (Route route : routes) {
        Change change = switch (record.type()) {
          case PUT -> matches(record, route)
              ? new Change(route, record.key(), record.value(), record.sequence()) : null;
          case DELETE, SINGLE_DELETE -> matches(record, route)
              ? new Change(route, record.key(), null, record.sequence()) : null;
          // A merge record holds an operand, not a value: read the merged value back. It may
          // already include later writes, which the stream then applies again: the table is
          // eventually, not transactionally, consistent for merged keys.
          case MERGE -> matches(record, route)
              ? new Change(route, record.key(),
                  values.read(record.columnFamilyId(), record.key()), record.sequence())
              : null;
          case DELETE_RANGE -> rangeFor(record, route);
          default -> throw unsupported(record, route);
        };
        if (change == null) {
          continue;
        }
        CopiedRange copied = copiedRanges.get(route);
        if (copied != null) {
          change = copied.remainder(change);
          if (change == null) {
            continue;
          }
        }
        changes.add(change);
        weight += change.weight();
      }
    }
    return new ChangeBatch(batch.sequence(), batch.lastSequence(), changes, weight);
  }

  private static boolean matches(WalRecord record, Route route) {
    return SnapshotScan.startsWith(record.key(), route.prefix());
  }

  /** Returns the part of a range delete within the route's prefix, or null if none. */
  private static Change rangeFor(WalRecord record, Route route) {
    byte[] prefix = route.prefix();
    byte[] begin = record.key();
    byte[] end = record.value();
    if (prefix.length > 0) {
      if (Arrays.compareUnsigned(begin, prefix) < 0) {
        begin = prefix;
      }
      byte[] prefixEnd = KeyRanges.prefixEnd(prefix);
      if (prefixEnd != null && (end == null || Arrays.compareUnsigned(end, prefixEnd) > 0)) {
        end = prefixEnd;
      }
    }
    if (end != null && Arrays.compareUnsigned(begin, end) >= 0) {
      return null;
    }
    return Change.deleteRange(route, begin, end, record.sequence());
  }

  private static ReplicationException unsupported(WalRecord record, Route route) {
    String where = route == null
        ? "at sequence " + record.sequence()
        : "to tree '" + route.treeName() + "' (mapping '" + route.mappingName() + "'), key "
            + HexFormat.of().formatHex(record.key()) + ", sequence " + record.sequence();
    return new ReplicationException(ReplicationException.Kind.STORE,
        "The store holds a " + record.type().operation() + " write " + where
            + ", which kv2pg cannot replicate: it replicates put, delete, singleDelete, deleteRange,"
            + " merge, and transactions (TransactionDB, OptimisticTransactionDB) committed without"
            + " a two-phase prepare(). Commit transactions without prepare() (or stop mapping the"
            + " tree), then start the replication again from a fresh copy.",
        null,
        route == null ? null : route.mappingName(),
        route == null ? null : route.treeName(),
        route == null ? null : record.key(),
        record.sequence());
  }
}
