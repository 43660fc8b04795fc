package io.kv2pg.change;

import io.kv2pg.ReplicationException;
import io.kv2pg.source.SnapshotScan;
import io.kv2pg.source.WalBatch;
import io.kv2pg.source.WalRecord;
import java.util.ArrayList;
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
  private final Map<Integer, CopiedRange> copiedRanges;

  /**
   * Creates a router.
   *
   * @param copiedRanges per mapping index, the keys this run's initial copy reads
   */
  public ChangeRouter(List<Route> routes, Map<Integer, CopiedRange> copiedRanges) {
    this.copiedRanges = Map.copyOf(copiedRanges);
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
    long weight = 0;
    for (WalRecord record : batch.records()) {
      List<Route> routes = routesByFamily.get(record.columnFamilyId());
      if (routes == null) {
        if (record.columnFamilyId() < 0) {
          throw unsupported(record, null);
        }
        continue;
      }
      for (Route route : routes) {
        if (!SnapshotScan.startsWith(record.key(), route.prefix())
            && record.type() != WalRecord.Type.DELETE_RANGE) {
          continue;
        }
        Change change = switch (record.type()) {
          case PUT -> new Change(route.mapping(), record.key(), record.value(), record.sequence());
          case DELETE, SINGLE_DELETE -> new Change(route.mapping(), record.key(), null, record.sequence());
          default -> throw unsupported(record, route);
        };
        CopiedRange copied = copiedRanges.get(route.mapping());
        if (copied != null && copied.contains(change)) {
          continue;
        }
        changes.add(change);
        weight += change.weight();
      }
    }
    return new ChangeBatch(batch.sequence(), batch.lastSequence(), changes, weight);
  }

  private static ReplicationException unsupported(WalRecord record, Route route) {
    String where = route == null
        ? "at sequence " + record.sequence()
        : "to tree '" + route.treeName() + "' (mapping '" + route.mappingName() + "'), key "
            + HexFormat.of().formatHex(record.key()) + ", sequence " + record.sequence();
    return new ReplicationException(
        "The store holds a " + record.type().operation() + " write " + where
            + ", which kv2pg cannot replicate yet: it replicates put, delete and singleDelete, and"
            + " write-committed transactions without a two-phase prepare. Rewrite the data with"
            + " puts and deletes (or stop mapping the tree), then start the replication again"
            + " from a fresh copy.",
        null,
        route == null ? null : route.mappingName(),
        route == null ? null : route.treeName(),
        route == null ? null : record.key(),
        record.sequence());
  }
}
