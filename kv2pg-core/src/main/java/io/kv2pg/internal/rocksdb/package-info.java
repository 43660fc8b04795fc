/**
 * Internal to kv2pg, not an API: may change in any release. The store side: tailing and decoding the write-ahead log, snapshot scans, the checks of WAL retention and dropped column families, and the guard against a closed store.
 *
 * <p>Uses rocksdbjni and the public API's exception only.
 */
package io.kv2pg.internal.rocksdb;
