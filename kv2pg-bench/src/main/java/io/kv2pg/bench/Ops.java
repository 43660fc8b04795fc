package io.kv2pg.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A deterministic stream of writes for one application thread, made before any timing: 50 %
 * updates of existing keys, 25 % puts of new keys, 25 % deletes of existing keys. Thread {@code t}
 * of {@code n} owns the ids that are {@code t} modulo {@code n}, so that the final state is the
 * same whatever the interleaving of the threads.
 */
final class Ops {
  static final byte UPDATE = 0;
  static final byte INSERT = 1;
  static final byte DELETE = 2;
  static final String MIX = "50% updates of existing keys, 25% puts of new keys, 25% deletes of existing keys";

  final byte[] type;
  final long[] id;
  final long[] version;

  private Ops(int count) {
    type = new byte[count];
    id = new long[count];
    version = new long[count];
  }

  int size() {
    return type.length;
  }

  boolean isDelete(int i) {
    return type[i] == DELETE;
  }

  /** Returns {@code threads} op streams totalling {@code changes} writes over a base of ids 0..base-1. */
  static List<Ops> generate(int threads, int changes, long base, long seed) {
    List<Ops> all = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int count = changes / threads + (t < changes % threads ? 1 : 0);
      Ops ops = new Ops(count);
      SplittableRandom random = new SplittableRandom(seed * 31 + t);
      long[] live = new long[(int) (base / threads + 1) + count];
      int liveCount = 0;
      for (long id = t; id < base; id += threads) {
        live[liveCount++] = id;
      }
      long nextNew = base + t;
      for (int i = 0; i < count; i++) {
        int r = random.nextInt(100);
        byte type = r < 50 ? UPDATE : r < 75 ? INSERT : DELETE;
        if (liveCount == 0) {
          type = INSERT;
        }
        ops.type[i] = type;
        ops.version[i] = (long) i * threads + t + 1;
        switch (type) {
          case UPDATE -> ops.id[i] = live[random.nextInt(liveCount)];
          case INSERT -> {
            ops.id[i] = nextNew;
            live[liveCount++] = nextNew;
            nextNew += threads;
          }
          default -> {
            int at = random.nextInt(liveCount);
            ops.id[i] = live[at];
            live[at] = live[--liveCount];
          }
        }
      }
      all.add(ops);
    }
    return all;
  }

  /**
   * Returns the checksum of the state after the base and the first {@code applied[t]} ops of each
   * thread's stream.
   */
  static Checksum expected(Rows.Kind kind, long base, List<Ops> streams, int[] applied) {
    long maxId = base;
    for (Ops ops : streams) {
      for (long id : ops.id) {
        maxId = Math.max(maxId, id + 1);
      }
    }
    long[] versions = new long[(int) maxId];
    java.util.Arrays.fill(versions, 0, (int) base, 0);
    java.util.Arrays.fill(versions, (int) base, (int) maxId, -1);
    for (int t = 0; t < streams.size(); t++) {
      Ops ops = streams.get(t);
      for (int i = 0; i < applied[t]; i++) {
        versions[(int) ops.id[i]] = ops.isDelete(i) ? -1 : ops.version[i];
      }
    }
    Checksum sum = new Checksum(kind);
    for (int id = 0; id < versions.length; id++) {
      if (versions[id] >= 0) {
        sum.addModel(id, versions[id]);
      }
    }
    return sum;
  }

  static int[] all(List<Ops> streams) {
    return streams.stream().mapToInt(Ops::size).toArray();
  }
}
