/**
 * Internal to kv2pg, not an API: may change in any release. The Postgres tables that mappings write: the mapping plans (statements or a declared table), the two table writers, DDL and schema checks, COPY encoding and parsing of the user's SQL.
 *
 * <p>Uses {@code internal.change}, {@code internal.decode} and {@link io.kv2pg.internal.postgres.SqlStates}; never commits (the caller owns the transaction).
 */
package io.kv2pg.internal.table;
