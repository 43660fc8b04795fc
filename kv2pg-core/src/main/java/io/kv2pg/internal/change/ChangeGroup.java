package io.kv2pg.internal.change;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Consecutive change batches applied in one Postgres transaction, coalesced per mapping and key so
 * that only each key's last write is sent (a set-based upsert may not touch a row twice). Not
 * thread-safe.
 */
public final class ChangeGroup {
  private final List<ChangeBatch> batches = new ArrayList<>();
  private static final Comparator<Route> IN_ORDER = Comparator.comparingInt(Route::position);

  private final Map<Route, Map<Key, Change>> latestByRoute = new TreeMap<>(IN_ORDER);
  private final Map<Route, List<Change>> rangesByRoute = new TreeMap<>(IN_ORDER);
  private long weight;
  private int changeCount;

  /** Adds the next batch; batches must be added in sequence order. */
  public void add(ChangeBatch batch) {
    batches.add(batch);
    weight += batch.weight();
    changeCount += batch.changes().size();
    for (Change change : batch.changes()) {
      Map<Key, Change> latest =
          latestByRoute.computeIfAbsent(change.route(), m -> new LinkedHashMap<>());
      if (change.isRangeDelete()) {
        // Earlier writes inside the range are void; later ones stay in latest and, applied after
        // the range deletes, win as they should.
        latest.values().removeIf(
            earlier -> KeyRanges.contains(change.key(), change.rangeEnd(), earlier.key()));
        rangesByRoute.computeIfAbsent(change.route(), m -> new ArrayList<>()).add(change);
      } else {
        latest.put(new Key(change.key()), change);
      }
    }
  }

  /** Returns the batches, in order. */
  public List<ChangeBatch> batches() {
    return batches;
  }

  /**
   * Returns two groups holding the first and the second half of the batches, for a transaction
   * too large for Postgres; cut on batch boundaries, as every group is. Needs two batches or more.
   */
  public List<ChangeGroup> halves() {
    if (batches.size() < 2) {
      throw new IllegalStateException("a group of " + batches.size() + " batch cannot be halved");
    }
    int middle = batches.size() / 2;
    ChangeGroup first = new ChangeGroup();
    ChangeGroup second = new ChangeGroup();
    for (int i = 0; i < batches.size(); i++) {
      (i < middle ? first : second).add(batches.get(i));
    }
    return List.of(first, second);
  }

  /** Returns the change of the given key at the given sequence number, or {@code null}. */
  public Change find(byte[] key, long sequence) {
    for (ChangeBatch batch : batches) {
      if (sequence < batch.firstSequence() || sequence > batch.lastSequence()) {
        continue;
      }
      for (Change change : batch.changes()) {
        if (change.sequence() == sequence && Arrays.equals(change.key(), key)) {
          return change;
        }
      }
    }
    return null;
  }

  /**
   * Returns a group of the batches that end after {@code appliedSequence}, without {@code
   * passedOver}; a batch left empty stays, so that the checkpoint still moves past it.
   */
  public ChangeGroup after(long appliedSequence, Change passedOver) {
    ChangeGroup rest = new ChangeGroup();
    for (ChangeBatch batch : batches) {
      if (batch.lastSequence() <= appliedSequence) {
        continue;
      }
      List<Change> kept = new ArrayList<>(batch.changes());
      if (kept.remove(passedOver)) {
        rest.add(new ChangeBatch(batch.firstSequence(), batch.lastSequence(), kept,
            batch.weight() - passedOver.weight()));
      } else {
        rest.add(batch);
      }
    }
    return rest;
  }

  /** Returns whether no batch was added. */
  public boolean isEmpty() {
    return batches.isEmpty();
  }

  /** Returns the last sequence number of the last batch: the checkpoint once applied. */
  public long lastSequence() {
    return batches.get(batches.size() - 1).lastSequence();
  }

  /** Returns the memory the group holds, approximately. */
  public long weight() {
    return weight;
  }

  /** Returns how many changes were added, before coalescing. */
  public int changeCount() {
    return changeCount;
  }

  /** Returns the routes (mappings) that have changes, in the replication's order. */
  public Collection<Route> routes() {
    return latestByRoute.keySet();
  }

  /** Returns the route's range deletes, in write order; they apply before every other change. */
  public List<Change> ranges(Route route) {
    return rangesByRoute.getOrDefault(route, List.of());
  }

  /**
   * A key as a map key. A group holds tens of thousands of keys: the hash is computed once, with
   * a plain loop (ByteBuffer's reads each byte through its bounds checks).
   */
  private static final class Key {
    private final byte[] bytes;
    private final int hash;

    Key(byte[] bytes) {
      this.bytes = bytes;
      this.hash = Arrays.hashCode(bytes);
    }

    @Override
    public int hashCode() {
      return hash;
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof Key key && key.hash == hash && Arrays.equals(key.bytes, bytes);
    }
  }

  /** Returns each key's last change for the route, in the order keys were first written. */
  public Collection<Change> latest(Route route) {
    Map<Key, Change> latest = latestByRoute.get(route);
    return latest == null ? List.of() : latest.values();
  }
}
