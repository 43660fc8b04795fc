package io.kv2pg.internal.change;

/**
 * Where one tree mapping reads: a column family and a key prefix.
 *
 * @param mapping the mapping's index, in the replication's order
 * @param mappingName the mapping's name, for messages
 * @param columnFamilyId the column family's id in the store
 * @param treeName the column family's name, for messages
 * @param prefix the key prefix, empty for the whole tree
 */
public record Route(int mapping, String mappingName, int columnFamilyId, String treeName, byte[] prefix) {}
