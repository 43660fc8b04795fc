/**
 * Internal to kv2pg, not an API: may change in any release. The running replication: its lifecycle and threads, the start-up plan, the initial copy, the apply loop and the queue between the log reader and the writer.
 *
 * <p>Uses every other internal package; only {@code io.kv2pg} uses it.
 */
package io.kv2pg.internal.engine;
