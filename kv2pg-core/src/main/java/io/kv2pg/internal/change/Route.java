package io.kv2pg.internal.change;

/**
 * Where one tree mapping reads: a column family and a key prefix. Every change refers to the route
 * it came by; the engine makes one route per mapping and finds the mapping's writer by it.
 *
 * @param position the mapping's position in the replication's order, which orders its deletes
 *     and upserts against the other mappings' (parents before children)
 * @param mappingName the mapping's name, for messages
 * @param columnFamilyId the column family's id in the store
 * @param treeName the column family's name, for messages
 * @param prefix the key prefix, empty for the whole tree
 */
public record Route(int position, String mappingName, int columnFamilyId, String treeName, byte[] prefix) {}
