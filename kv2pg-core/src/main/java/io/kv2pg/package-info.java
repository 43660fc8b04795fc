/**
 * kv2pg's public API, and nothing else: keeps PostgreSQL tables in step with a RocksDB store.
 *
 * <p>Describe a replication with {@link io.kv2pg.Replication#builder()} and one {@link
 * io.kv2pg.TreeMapping} per tree, start it, and watch it through {@link
 * io.kv2pg.RunningReplication#status()}. {@link io.kv2pg.Verification} compares tables with the
 * store; {@link io.kv2pg.ReplicationRecords} reads and forgets what kv2pg recorded in Postgres.
 * Failures are {@link io.kv2pg.ReplicationException}s with a {@link
 * io.kv2pg.ReplicationException.Kind}.
 *
 * <p>Packages under {@code io.kv2pg.internal} are not API; see {@code docs/ARCHITECTURE.md}.
 */
package io.kv2pg;
