/**
 * Internal to kv2pg, not an API: may change in any release. Comparing a declared table with the store, row by row, for {@link io.kv2pg.Verification}.
 *
 * <p>Uses {@code internal.change} and {@code internal.table}.
 */
package io.kv2pg.internal.verify;
