package io.kv2pg.internal.change;

import java.util.List;

/**
 * The mapped changes of one source write batch: never split across Postgres transactions.
 *
 * @param firstSequence the batch's first sequence number
 * @param lastSequence the batch's last sequence number; the checkpoint once it is applied
 * @param changes the changes, in write order
 * @param weight the approximate memory the changes hold
 */
public record ChangeBatch(long firstSequence, long lastSequence, List<Change> changes, long weight) {}
