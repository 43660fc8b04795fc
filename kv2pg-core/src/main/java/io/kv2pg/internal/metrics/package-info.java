/**
 * Internal to kv2pg, not an API: may change in any release. A run's metrics in Micrometer: the
 * only package that names Micrometer, loaded only when the builder was given a meter registry.
 *
 * <p>Uses {@code io.kv2pg.internal.engine} (what a run reports); only {@code io.kv2pg} uses it.
 */
package io.kv2pg.internal.metrics;
