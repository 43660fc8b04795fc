/**
 * Internal to kv2pg, not an API: may change in any release. kv2pg's Postgres session: connecting (with the password masked in every message), retrying with backoff, SQLSTATE classes, the replication's lock and fencing epoch, and the checkpoint store, the only code that names kv2pg's own tables.
 *
 * <p>Uses pgjdbc only.
 */
package io.kv2pg.internal.postgres;
