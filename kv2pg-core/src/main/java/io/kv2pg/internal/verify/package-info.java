/**
 * Internal to kv2pg, not an API: may change in any release. Comparing a declared table with the store, row by row, for {@link io.kv2pg.Verification}; repairing the rows that differ ({@code TableRepairer}); the keys written after a checkpoint ({@code ChangedKeys}).
 *
 * <p>Uses {@code internal.change}, {@code internal.table}, {@code internal.rocksdb.WalSource} and {@code internal.postgres.SqlStates}.
 */
package io.kv2pg.internal.verify;
