/**
 * Internal to kv2pg, not an API: may change in any release. Column decoders: reading a column's value out of a key or value (fixed-width numbers, UTF-8, JSON fields), with the JSON field extraction.
 *
 * <p>Uses Jackson only; no Postgres, no RocksDB.
 */
package io.kv2pg.internal.decode;
