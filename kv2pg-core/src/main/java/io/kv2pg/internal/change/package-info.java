/**
 * Internal to kv2pg, not an API: may change in any release. Changes read from the store: one key's write, the write batches they came in, per-key coalescing into transaction groups, and routing of WAL records to the mappings that read them.
 *
 * <p>Uses {@code internal.rocksdb} for WAL records; no Postgres.
 */
package io.kv2pg.internal.change;
