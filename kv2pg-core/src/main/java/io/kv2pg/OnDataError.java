package io.kv2pg;

/**
 * What a replication does with a change that its data makes impossible to apply: the mapping
 * cannot turn it into a row (a decoder or parameter function throws), or Postgres refuses the row
 * because of its data (a constraint, a type, a value too long, a deferred foreign key that fails
 * at commit). Set with {@link Replication.Builder#onDataError(OnDataError)}.
 */
public enum OnDataError {
  /**
   * Stop the replication with a {@link ReplicationException} of kind {@code DATA} naming the
   * mapping, the key and the sequence number; nothing from that write batch on is committed. The
   * default: nothing is set aside without the user knowing.
   */
  FAIL,
  /**
   * Record the change as a {@link DeadLetter} (in kv2pg's dead-letter table, in the same
   * transaction as the rest of its write batch) and go on; the change's row keeps its previous
   * content. Each one is logged once at WARN and counted in {@link ReplicationStatus#deadLetters()}
   * and the {@code kv2pg.dead.letters} meter. A later change of the same key that applies cleanly
   * resolves it; {@link Replication#retryDeadLetters()} applies each again from the store.
   */
  DEAD_LETTER
}
