package io.kv2pg.internal.postgres;

import io.kv2pg.DeadLetter;
import io.kv2pg.ReplicationException;
import io.kv2pg.ReplicationRecord;
import io.kv2pg.ReplicationRecord.MappingCopy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * kv2pg's own tables in schema {@code kv2pg}: {@code kv2pg.replication}, per replication, the last
 * applied sequence number (written in the same transaction as the rows it covers), the last
 * failure and the fencing epoch; {@code kv2pg.mapping_copy}, per tree mapping, the progress of its
 * initial copy and the fingerprint of what it copied (none: the mapping must be re-copied into a
 * table that holds its rows). {@code kv2pg.replication} also counts the write-ahead log gaps the
 * replication re-copied ({@code gaps_recopied}) and describes the last one ({@code last_gap}).
 * {@code kv2pg.dead_letter}, per mapping and key, a change set aside because of its data (written
 * and resolved in the transactions that apply the changes around it). {@code kv2pg.key_claim}, per
 * declared mapping, the table and the range of raw keys whose rows it owns, so that two
 * replications writing one table cannot own the same rows ({@link #claimKeys}).
 *
 * <p>Every method works inside the caller's transaction and commits nothing, except where it
 * says so.
 *
 * <p>Fencing: a session lock alone does not make a single writer (a runner whose session died
 * may get the lock back after another runner took over). So each runner claims the checkpoint
 * row by incrementing its epoch, and every transaction that commits rows proves, through the
 * checkpoint row, that the epoch is still its own.
 *
 * <p>The one owner of these tables: no other class names them. {@link #records} and {@link
 * #forget} serve the public {@link io.kv2pg.ReplicationRecords}. That is why this class is longer
 * than the others: every statement on these tables, their schema and its upgrades are read in one
 * place, so that fencing and the checkpoint's transaction rules can be checked in one place.
 *
 * <p>Concurrency: not thread-safe; the writer thread alone uses an instance.
 */
public final class CheckpointStore {
  /** Namespace of kv2pg's advisory locks ("kv2p"). */
  private static final int LOCK_CLASS = 0x6b763270;

  private static final String CREATE_SCHEMA = """
      create schema if not exists "kv2pg";
      create table if not exists "kv2pg"."replication" (
        "name" text primary key,
        "applied_sequence" bigint,
        "committed_at" timestamptz,
        "failure" text,
        "failed_at" timestamptz,
        "epoch" bigint not null default 0
      );
      alter table "kv2pg"."replication" add column if not exists "epoch" bigint not null default 0;
      alter table "kv2pg"."replication" add column if not exists "gaps_recopied" bigint not null default 0;
      alter table "kv2pg"."replication" add column if not exists "last_gap" text;
      create table if not exists "kv2pg"."mapping_copy" (
        "replication" text not null,
        "mapping" text not null,
        "snapshot_sequence" bigint not null,
        "resume_after" bytea,
        "rows_copied" bigint not null default 0,
        "completed_at" timestamptz,
        "fingerprint" text,
        primary key ("replication", "mapping")
      );
      create table if not exists "kv2pg"."dead_letter" (
        "replication" text not null,
        "mapping" text not null,
        "key" bytea not null,
        "value" bytea,
        "sequence" bigint not null,
        "error" text not null,
        "sqlstate" text,
        "recorded_at" timestamptz not null default now(),
        primary key ("replication", "mapping", "key")
      );
      create table if not exists "kv2pg"."key_claim" (
        "replication" text not null,
        "mapping" text not null,
        "table_name" text not null,
        "key_from" bytea not null,
        "key_until" bytea,
        primary key ("replication", "mapping")
      )""";

  /** The initial copy of one mapping. */
  public record CopyProgress(long snapshotSequence, byte[] resumeAfter, long rowsCopied, boolean completed) {}

  private final String replication;
  /**
   * The fencing token this runner holds: every runner that takes the lock increments the
   * checkpoint row's epoch, and every commit names it. Zero until {@link #claim}.
   */
  private long epoch;

  public CheckpointStore(String replication) {
    this.replication = replication;
  }

  /**
   * Waits, inside the caller's transaction, until no other runner creates tables: "create table if
   * not exists" is not safe against a race (two runners that create the same table at once, as the
   * replications of several stores writing one declared table do, fail with a unique violation on
   * Postgres's catalog). Held until the transaction ends; the same lock as {@link #createSchema}.
   */
  public static void serializeTableCreation(Connection connection) throws SQLException {
    try (Statement statement = connection.createStatement()) {
      statement.execute("select pg_advisory_xact_lock(" + LOCK_CLASS + ", 0)");
    }
  }

  /** Creates kv2pg's schema and tables if they are missing, and commits. */
  public static void createSchema(Connection connection) throws SQLException {
    try (Statement statement = connection.createStatement();
        ResultSet exists = statement.executeQuery("select to_regclass('\"kv2pg\".\"replication\"')"
            + " is not null and to_regclass('\"kv2pg\".\"mapping_copy\"') is not null"
            + " and to_regclass('\"kv2pg\".\"dead_letter\"') is not null"
            + " and to_regclass('\"kv2pg\".\"key_claim\"') is not null"
            + " and exists (select 1 from pg_attribute where attrelid = to_regclass('\"kv2pg\".\"replication\"')"
            + " and attname = 'epoch' and not attisdropped)"
            + " and exists (select 1 from pg_attribute where attrelid = to_regclass('\"kv2pg\".\"replication\"')"
            + " and attname = 'last_gap' and not attisdropped)")) {
      exists.next();
      if (exists.getBoolean(1)) {
        // Postgres checks the CREATE privilege before "if not exists": a role without it must
        // still be able to run against tables a DBA created.
        connection.commit();
        return;
      }
    }
    try (Statement statement = connection.createStatement()) {
      // Serializes concurrent first starts: "create … if not exists" is not safe against a race.
      statement.execute("select pg_advisory_xact_lock(" + LOCK_CLASS + ", 0)");
      statement.execute(CREATE_SCHEMA);
    }
    connection.commit();
  }

  /**
   * Takes the replication's session-level lock, so that one process at a time applies its
   * changes.
   *
   * @return whether the lock was free
   */
  public boolean tryLock(Connection connection) throws SQLException {
    try (PreparedStatement statement =
        connection.prepareStatement("select pg_try_advisory_lock(?, hashtext(?))")) {
      statement.setInt(1, LOCK_CLASS);
      statement.setString(2, replication);
      try (ResultSet rows = statement.executeQuery()) {
        rows.next();
        boolean locked = rows.getBoolean(1);
        connection.commit();
        return locked;
      }
    }
  }

  /** Releases the lock {@link #tryLock} took, and commits. */
  public void unlock(Connection connection) throws SQLException {
    try (PreparedStatement statement =
        connection.prepareStatement("select pg_advisory_unlock(?, hashtext(?))")) {
      statement.setInt(1, LOCK_CLASS);
      statement.setString(2, replication);
      statement.execute();
    }
    connection.commit();
  }

  /**
   * Makes this runner the owner of the checkpoint row: increments its epoch, which fences out
   * every earlier runner of the same name, and commits. Call once, right after the first
   * {@link #tryLock}.
   */
  public void claim(Connection connection) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement("""
        insert into "kv2pg"."replication" ("name", "epoch") values (?, 1)
        on conflict ("name") do update set "epoch" = "replication"."epoch" + 1
        returning "epoch\"""")) {
      statement.setString(1, replication);
      try (ResultSet rows = statement.executeQuery()) {
        rows.next();
        epoch = rows.getLong(1);
      }
    }
    connection.commit();
  }

  /**
   * Checks, after the lock was taken again on a new session, that no other runner claimed the
   * checkpoint meanwhile.
   *
   * @throws ReplicationException if another runner did: what this runner holds in memory is stale
   */
  public void confirmOwner(Connection connection) throws SQLException {
    long current = currentEpoch(connection);
    connection.commit();
    if (current != epoch) {
      throw fenced(current);
    }
  }

  /**
   * Proves, inside the caller's transaction, that this runner still owns the checkpoint. The
   * row lock the update takes orders this transaction against a concurrent {@link #claim}.
   */
  private void fence(Connection connection) throws SQLException {
    updateOwnRow(connection, "\"epoch\" = \"epoch\"", null);
  }

  /**
   * Updates the checkpoint row with {@code assignments} (whose one parameter, if any, is {@code
   * value}) if this runner still owns it.
   *
   * @throws ReplicationException if another runner claimed the checkpoint since this one did
   */
  private void updateOwnRow(Connection connection, String assignments, Object value) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement("update \"kv2pg\".\"replication\" set "
        + assignments + " where \"name\" = ? and \"epoch\" = ?")) {
      int next = 1;
      if (value != null) {
        statement.setObject(next++, value);
      }
      statement.setString(next++, replication);
      statement.setLong(next, epoch);
      if (statement.executeUpdate() == 0) {
        throw fenced(currentEpoch(connection));
      }
    }
  }

  private long currentEpoch(Connection connection) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "select \"epoch\" from \"kv2pg\".\"replication\" where \"name\" = ?")) {
      statement.setString(1, replication);
      try (ResultSet rows = statement.executeQuery()) {
        return rows.next() ? rows.getLong(1) : -1;
      }
    }
  }

  private ReplicationException fenced(long current) {
    String now = current < 0 ? "its checkpoint row was deleted" : "the checkpoint's epoch is now " + current;
    return new ReplicationException(ReplicationException.Kind.FENCED, "Replication '" + replication + "' was taken over by another"
        + " runner while this one had lost its Postgres session (" + now + "; this runner held epoch "
        + epoch + "). This runner stopped without committing what it had read, so nothing is applied"
        + " twice, and nothing is lost: the runner that holds the checkpoint continues from it. Run"
        + " one runner per replication name; start this one again once the other has stopped, and"
        + " it resumes from the checkpoint.", null);
  }

  /** Returns the applied sequence number, if the replication has committed one. */
  public OptionalLong appliedSequence(Connection connection) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "select \"applied_sequence\" from \"kv2pg\".\"replication\" where \"name\" = ?")) {
      statement.setString(1, replication);
      try (ResultSet rows = statement.executeQuery()) {
        if (!rows.next()) {
          return OptionalLong.empty();
        }
        long applied = rows.getLong(1);
        return rows.wasNull() ? OptionalLong.empty() : OptionalLong.of(applied);
      }
    }
  }

  /**
   * Returns the applied sequence number, like {@link #appliedSequence}, and holds a share lock on
   * the checkpoint row until the caller's transaction ends: a runner's next commit (which updates
   * the row) waits until then, and under READ COMMITTED a commit in progress is waited for and
   * its checkpoint returned. For a repair that must not race the replication's commits.
   */
  public OptionalLong lockAppliedSequence(Connection connection) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "select \"applied_sequence\" from \"kv2pg\".\"replication\" where \"name\" = ? for share")) {
      statement.setString(1, replication);
      try (ResultSet rows = statement.executeQuery()) {
        if (!rows.next()) {
          return OptionalLong.empty();
        }
        long applied = rows.getLong(1);
        return rows.wasNull() ? OptionalLong.empty() : OptionalLong.of(applied);
      }
    }
  }

  /**
   * Records the applied sequence number and clears any recorded failure, if this runner still
   * owns the checkpoint.
   *
   * @throws ReplicationException if another runner claimed the checkpoint since this one did
   */
  public void saveAppliedSequence(Connection connection, long sequence) throws SQLException {
    updateOwnRow(connection, "\"applied_sequence\" = ?, \"committed_at\" = now(), \"failure\" = null,"
        + " \"failed_at\" = null", sequence);
  }


  /**
   * Records why the replication stopped, in a transaction of its own, and commits; a runner that
   * was fenced out records nothing, since the row is another runner's now.
   *
   * @return whether the failure was recorded
   */
  public boolean saveFailure(Connection connection, String failure) throws SQLException {
    connection.rollback();
    int updated;
    try (PreparedStatement statement = connection.prepareStatement("""
        update "kv2pg"."replication" set "failure" = ?, "failed_at" = now()
        where "name" = ? and "epoch" = ?""")) {
      statement.setString(1, failure);
      statement.setString(2, replication);
      statement.setLong(3, epoch);
      updated = statement.executeUpdate();
    }
    connection.commit();
    return updated > 0;
  }

  /** Forgets a failure recorded by an earlier run, and commits. */
  public void clearFailure(Connection connection) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement("""
        update "kv2pg"."replication" set "failure" = null, "failed_at" = null
        where "name" = ? and "epoch" = ? and "failure" is not null""")) {
      statement.setString(1, replication);
      statement.setLong(2, epoch);
      statement.executeUpdate();
    }
    connection.commit();
  }

  /** Returns the initial-copy progress of every mapping that has one. */
  public Map<String, CopyProgress> copyProgress(Connection connection) throws SQLException {
    Map<String, CopyProgress> progress = new HashMap<>();
    try (PreparedStatement statement = connection.prepareStatement("""
        select "mapping", "snapshot_sequence", "resume_after", "rows_copied", "completed_at" is not null
        from "kv2pg"."mapping_copy" where "replication" = ?""")) {
      statement.setString(1, replication);
      try (ResultSet rows = statement.executeQuery()) {
        while (rows.next()) {
          progress.put(rows.getString(1), new CopyProgress(
              rows.getLong(2), rows.getBytes(3), rows.getLong(4), rows.getBoolean(5)));
        }
      }
    }
    return progress;
  }

  /** Returns each mapping's fingerprint: what it read and wrote when it was copied. */
  public Map<String, String> fingerprints(Connection connection) throws SQLException {
    Map<String, String> fingerprints = new HashMap<>();
    try (PreparedStatement statement = connection.prepareStatement(
        "select \"mapping\", \"fingerprint\" from \"kv2pg\".\"mapping_copy\" where \"replication\" = ?")) {
      statement.setString(1, replication);
      try (ResultSet rows = statement.executeQuery()) {
        while (rows.next()) {
          fingerprints.put(rows.getString(1), rows.getString(2));
        }
      }
    }
    return fingerprints;
  }

  /** Records the fingerprint of a mapping whose copy progress row exists. */
  public void saveFingerprint(Connection connection, String mapping, String fingerprint)
      throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "update \"kv2pg\".\"mapping_copy\" set \"fingerprint\" = ? where \"replication\" = ? and \"mapping\" = ?")) {
      statement.setString(1, fingerprint);
      statement.setString(2, replication);
      statement.setString(3, mapping);
      statement.executeUpdate();
    }
  }

  /**
   * Records that this replication's mapping owns the rows of declared table {@code table} whose
   * raw keys lie from {@code from} up to {@code until} (exclusive; {@code null}: no end), after
   * checking that no other replication claims any of them; forgets the claims of this
   * replication's mappings not in {@code mappings}. Two replications owning one row would delete
   * and overwrite each other's rows: a re-copy of one clears the other's. Holds the lock that
   * serializes table creation until the caller's transaction ends, so that two replications
   * starting at once cannot both pass the check.
   *
   * @param mappings the names of the run's mappings; this replication's claims for any other
   *     mapping are forgotten (a mapping left out of a run gives up its rows)
   * @param claims the claims of the run's declared mappings
   * @throws ReplicationException (CONFIGURATION) naming both claims when another replication's
   *     claim overlaps one of {@code claims}; nothing is recorded then
   */
  public void claimKeys(Connection connection, java.util.Collection<String> mappings, List<KeyClaim> claims)
      throws SQLException {
    serializeTableCreation(connection);
    try (PreparedStatement statement = connection.prepareStatement(
        "delete from \"kv2pg\".\"key_claim\" where \"replication\" = ? and \"mapping\" <> all(?)")) {
      statement.setString(1, replication);
      statement.setArray(2, connection.createArrayOf("text", mappings.toArray()));
      statement.executeUpdate();
    }
    for (KeyClaim claim : claims) {
      try (PreparedStatement statement = connection.prepareStatement("""
          select "replication", "mapping", "key_from", "key_until" from "kv2pg"."key_claim"
          where "table_name" = ? and "replication" <> ?
            and ("key_until" is null or "key_until" > ?) and (?::bytea is null or "key_from" < ?)
          order by "replication", "mapping" limit 1""")) {
        statement.setString(1, claim.table());
        statement.setString(2, replication);
        statement.setBytes(3, claim.from());
        statement.setBytes(4, claim.until());
        statement.setBytes(5, claim.until());
        try (ResultSet rows = statement.executeQuery()) {
          if (rows.next()) {
            throw overlap(claim, rows.getString(1), rows.getString(2), rows.getBytes(3), rows.getBytes(4));
          }
        }
      }
      try (PreparedStatement statement = connection.prepareStatement("""
          insert into "kv2pg"."key_claim" ("replication", "mapping", "table_name", "key_from", "key_until")
          values (?, ?, ?, ?, ?)
          on conflict ("replication", "mapping") do update set "table_name" = excluded."table_name",
            "key_from" = excluded."key_from", "key_until" = excluded."key_until\"""")) {
        statement.setString(1, replication);
        statement.setString(2, claim.mapping());
        statement.setString(3, claim.table());
        statement.setBytes(4, claim.from());
        statement.setBytes(5, claim.until());
        statement.executeUpdate();
      }
    }
  }

  /**
   * The rows of a declared table that one mapping owns: those whose raw key lies from {@code from}
   * up to {@code until} (exclusive; {@code null}: no end). {@code table} is the quoted, qualified
   * name.
   */
  public record KeyClaim(String mapping, String treeName, String table, byte[] from, byte[] until) {}

  private ReplicationException overlap(KeyClaim claim, String otherReplication, String otherMapping,
      byte[] otherFrom, byte[] otherUntil) {
    return new ReplicationException(ReplicationException.Kind.CONFIGURATION, "Replication '" + replication
        + "' cannot start: its mapping '" + claim.mapping() + "' owns the rows of table " + claim.table()
        + " with raw keys " + describe(claim.from(), claim.until()) + ", and replication '" + otherReplication
        + "' (mapping '" + otherMapping + "') owns those " + describe(otherFrom, otherUntil) + " of the same"
        + " table. Two replications owning one row would delete and overwrite each other's rows. Give the"
        + " stores that write this table disjoint key ranges (TreeMapping.Builder.keyRange, or key-range in"
        + " the YAML configuration); or, if replication '" + otherReplication + "' no longer runs, remove its"
        + " records (ReplicationRecords.forget(\"" + otherReplication + "\")) and start again. No row of the"
        + " table was written or removed.", null, claim.mapping(), claim.treeName(), null, -1);
  }

  private static String describe(byte[] from, byte[] until) {
    java.util.HexFormat hex = java.util.HexFormat.of();
    return "from 0x" + hex.formatHex(from) + (until == null ? " to the end" : " up to 0x" + hex.formatHex(until)
        + " (exclusive)");
  }

  /** Deletes the key claims of this replication, or of its {@code mapping} when not null. */
  private void deleteClaims(Connection connection, String mapping) throws SQLException {
    try (Statement statement = connection.createStatement();
        ResultSet exists = statement.executeQuery("select to_regclass('\"kv2pg\".\"key_claim\"') is not null")) {
      exists.next();
      if (!exists.getBoolean(1)) {
        return; // Made by a version before key claims, and not started since.
      }
    }
    try (PreparedStatement statement = connection.prepareStatement(
        "delete from \"kv2pg\".\"key_claim\" where \"replication\" = ?"
            + (mapping == null ? "" : " and \"mapping\" = ?"))) {
      statement.setString(1, replication);
      if (mapping != null) {
        statement.setString(2, mapping);
      }
      statement.executeUpdate();
    }
  }

  /**
   * Marks the copy records of mappings this run does not have to be copied again: the stream
   * passes their writes by, so if they come back their tables hold rows that a re-copy must
   * replace. The records are kept, so that kv2pg knows this of statement mappings too.
   */
  public void markOtherMappings(Connection connection, java.util.Collection<String> mappings)
      throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "update \"kv2pg\".\"mapping_copy\" set \"fingerprint\" = null, \"completed_at\" = null"
            + " where \"replication\" = ? and \"mapping\" <> all(?) and (\"fingerprint\" is not null"
            + " or \"completed_at\" is not null)")) {
      statement.setString(1, replication);
      statement.setArray(2, connection.createArrayOf("text", mappings.toArray()));
      statement.executeUpdate();
    }
  }

  /**
   * Marks the copy records of {@code mappings} to be copied again into tables that hold their
   * rows: the next start (or this one) clears them and copies in one transaction. A record marked
   * so has no fingerprint and is not complete.
   */
  public void markForRecopy(Connection connection, java.util.Collection<String> mappings) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "update \"kv2pg\".\"mapping_copy\" set \"fingerprint\" = null, \"completed_at\" = null"
            + " where \"replication\" = ? and \"mapping\" = any(?)")) {
      statement.setString(1, replication);
      statement.setArray(2, connection.createArrayOf("text", mappings.toArray()));
      statement.executeUpdate();
    }
  }

  /**
   * Records, if this runner owns the checkpoint, that a gap in the write-ahead log is being
   * re-copied: counts it and keeps its description.
   */
  public void recordGap(Connection connection, String description) throws SQLException {
    updateOwnRow(connection, "\"gaps_recopied\" = \"gaps_recopied\" + 1, \"last_gap\" = ?", description);
  }


  /** Records a mapping's copy progress: the last key copied, and whether the copy is complete. */
  public void saveCopyProgress(Connection connection, String mapping, CopyProgress progress)
      throws SQLException {
    fence(connection);
    try (PreparedStatement statement = connection.prepareStatement("""
        insert into "kv2pg"."mapping_copy"
          ("replication", "mapping", "snapshot_sequence", "resume_after", "rows_copied", "completed_at")
        values (?, ?, ?, ?, ?, case when ? then now() end)
        on conflict ("replication", "mapping") do update set
          "snapshot_sequence" = excluded."snapshot_sequence", "resume_after" = excluded."resume_after",
          "rows_copied" = excluded."rows_copied", "completed_at" = excluded."completed_at\"""")) {
      statement.setString(1, replication);
      statement.setString(2, mapping);
      statement.setLong(3, progress.snapshotSequence());
      statement.setBytes(4, progress.resumeAfter());
      statement.setLong(5, progress.rowsCopied());
      statement.setBoolean(6, progress.completed());
      statement.executeUpdate();
    }
  }
  /**
   * Reads what the database records about one replication name, or about every one when {@code
   * name} is {@code null}, ordered by name. Reads nothing and returns an empty list when kv2pg's
   * tables do not exist. Commits nothing: under REPEATABLE READ the records belong to the
   * caller's snapshot.
   */
  public static List<ReplicationRecord> records(Connection connection, String name) throws SQLException {
    boolean hasReplications;
    boolean hasCopies;
    boolean hasDeadLetters;
    boolean hasGaps;
    try (Statement statement = connection.createStatement();
        ResultSet exists = statement.executeQuery("select to_regclass('\"kv2pg\".\"replication\"') is not null,"
            + " to_regclass('\"kv2pg\".\"mapping_copy\"') is not null,"
            + " to_regclass('\"kv2pg\".\"dead_letter\"') is not null,"
            + " exists (select 1 from pg_attribute where attrelid = to_regclass('\"kv2pg\".\"replication\"')"
            + " and attname = 'gaps_recopied' and not attisdropped)")) {
      exists.next();
      hasReplications = exists.getBoolean(1);
      hasCopies = exists.getBoolean(2);
      hasDeadLetters = exists.getBoolean(3);
      hasGaps = exists.getBoolean(4);
    }
    if (!hasReplications) {
      return List.of();
    }
    Map<String, List<MappingCopy>> copies = new HashMap<>();
    if (hasCopies) {
      try (PreparedStatement statement = connection.prepareStatement("""
          select "replication", "mapping", "snapshot_sequence", "rows_copied", "completed_at"
          from "kv2pg"."mapping_copy\"""" + (name == null ? "" : " where \"replication\" = ?")
          + " order by \"replication\", \"mapping\"")) {
        if (name != null) {
          statement.setString(1, name);
        }
        try (ResultSet rows = statement.executeQuery()) {
          while (rows.next()) {
            copies.computeIfAbsent(rows.getString(1), r -> new ArrayList<>()).add(new MappingCopy(
                rows.getString(2), rows.getLong(3), rows.getLong(4), instant(rows, 5)));
          }
        }
      }
    }
    // A runner holds a session advisory lock on (LOCK_CLASS, hashtext(name)): objsubid 2 is the
    // two-key form.
    List<ReplicationRecord> records = new ArrayList<>();
    try (PreparedStatement statement = connection.prepareStatement("""
        select r."name", r."applied_sequence", r."committed_at", r."epoch", r."failure", r."failed_at",
          exists (select 1 from pg_locks l where l.locktype = 'advisory' and l.granted
                  and l.classid = %d::oid and l.objid = hashtext(r."name")::oid and l.objsubid = 2
                  and l.database = (select oid from pg_database where datname = current_database())),
          %s, %s
        from "kv2pg"."replication" r""".formatted(LOCK_CLASS,
            hasGaps ? "r.\"gaps_recopied\"" : "0",
            hasDeadLetters ? "(select count(*) from \"kv2pg\".\"dead_letter\" d where d.\"replication\" = r.\"name\")" : "0")
        + (name == null ? "" : " where r.\"name\" = ?") + " order by r.\"name\"")) {
      if (name != null) {
        statement.setString(1, name);
      }
      try (ResultSet rows = statement.executeQuery()) {
        while (rows.next()) {
          String replication = rows.getString(1);
          long applied = rows.getLong(2);
          OptionalLong appliedSequence = rows.wasNull() ? OptionalLong.empty() : OptionalLong.of(applied);
          records.add(new ReplicationRecord(replication, appliedSequence, instant(rows, 3), rows.getLong(4),
              Optional.ofNullable(rows.getString(5)), instant(rows, 6), rows.getBoolean(7),
              copies.getOrDefault(replication, List.of()), rows.getLong(8), rows.getLong(9)));
        }
      }
    }
    return records;
  }

  /**
   * Records a change set aside because of its data; replaces an earlier one of the same key.
   *
   * @param value the value that failed, {@code null} for a delete
   * @param sqlState Postgres's SQLSTATE, {@code null} when the mapping failed
   */
  public void saveDeadLetter(Connection connection, String mapping, byte[] key, byte[] value, long sequence,
      String error, String sqlState) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement("""
        insert into "kv2pg"."dead_letter"
          ("replication", "mapping", "key", "value", "sequence", "error", "sqlstate", "recorded_at")
        values (?, ?, ?, ?, ?, ?, ?, now())
        on conflict ("replication", "mapping", "key") do update set "value" = excluded."value",
          "sequence" = excluded."sequence", "error" = excluded."error", "sqlstate" = excluded."sqlstate",
          "recorded_at" = excluded."recorded_at\"""")) {
      statement.setString(1, replication);
      statement.setString(2, mapping);
      statement.setBytes(3, key);
      statement.setBytes(4, value);
      statement.setLong(5, sequence);
      statement.setString(6, error);
      statement.setString(7, sqlState);
      statement.executeUpdate();
    }
  }

  /** Removes the dead letters of {@code keys} in {@code mapping}; returns how many there were. */
  public int resolveDeadLetters(Connection connection, String mapping, List<byte[]> keys) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement("""
        delete from "kv2pg"."dead_letter" where "replication" = ? and "mapping" = ? and "key" = any(?)""")) {
      statement.setString(1, replication);
      statement.setString(2, mapping);
      statement.setArray(3, connection.createArrayOf("bytea", keys.toArray(new byte[0][])));
      return statement.executeUpdate();
    }
  }

  /** Returns the keys of the replication's dead letters, by mapping. */
  public Map<String, List<byte[]>> deadLetterKeys(Connection connection) throws SQLException {
    Map<String, List<byte[]>> keys = new HashMap<>();
    try (PreparedStatement statement = connection.prepareStatement(
        "select \"mapping\", \"key\" from \"kv2pg\".\"dead_letter\" where \"replication\" = ?")) {
      statement.setString(1, replication);
      try (ResultSet rows = statement.executeQuery()) {
        while (rows.next()) {
          keys.computeIfAbsent(rows.getString(1), m -> new ArrayList<>()).add(rows.getBytes(2));
        }
      }
    }
    return keys;
  }

  /**
   * Returns the dead letters of replication {@code name}, by mapping, key; none when kv2pg's tables
   * are missing. Commits nothing.
   */
  public static List<DeadLetter> deadLetters(Connection connection, String name) throws SQLException {
    try (Statement statement = connection.createStatement();
        ResultSet exists = statement.executeQuery("select to_regclass('\"kv2pg\".\"dead_letter\"') is not null")) {
      exists.next();
      if (!exists.getBoolean(1)) {
        return List.of();
      }
    }
    List<DeadLetter> letters = new ArrayList<>();
    try (PreparedStatement statement = connection.prepareStatement("""
        select "mapping", "key", "value", "sequence", "error", "sqlstate", "recorded_at"
        from "kv2pg"."dead_letter" where "replication" = ? order by "mapping", "key\"""")) {
      statement.setString(1, name);
      try (ResultSet rows = statement.executeQuery()) {
        while (rows.next()) {
          letters.add(new DeadLetter(name, rows.getString(1), rows.getBytes(2), Optional.ofNullable(rows.getBytes(3)),
              rows.getLong(4), rows.getString(5), Optional.ofNullable(rows.getString(6)),
              instant(rows, 7).orElseThrow()));
        }
      }
    }
    return letters;
  }

  private static Optional<Instant> instant(ResultSet rows, int column) throws SQLException {
    OffsetDateTime time = rows.getObject(column, OffsetDateTime.class);
    return time == null ? Optional.empty() : Optional.of(time.toInstant());
  }

  /** What {@link #forget} did. */
  public enum Forgotten {
    /** Rows were deleted and the deletion committed. */
    DELETED,
    /** Nothing was recorded: kv2pg's tables are missing, or hold nothing that matched. */
    NOTHING,
    /** A runner holds the replication's lock: nothing was deleted. */
    RUNNING
  }

  /**
   * Resets, and commits, the replication or one of its mappings, so that the next start copies
   * again into tables that hold rows: with {@code mapping} {@code null}, forgets the applied
   * sequence (keeping the row and its epoch) and marks every mapping's copy record for a re-copy
   * ({@link #markForRecopy}); otherwise marks only that mapping's record. Refuses while a runner
   * holds the replication's lock, and holds that lock while it writes, as {@link #forget} does.
   *
   * @return {@link Forgotten#DELETED} if something was reset, {@link Forgotten#NOTHING} if nothing
   *     matched, {@link Forgotten#RUNNING} if a runner holds the lock
   */
  public Forgotten reset(Connection connection, String mapping) throws SQLException {
    try {
      if (!tablesExist(connection)) {
        connection.commit();
        return Forgotten.NOTHING;
      }
      if (!tryTransactionLock(connection)) {
        connection.rollback();
        return Forgotten.RUNNING;
      }
      int updated;
      try (PreparedStatement statement = connection.prepareStatement(
          "update \"kv2pg\".\"mapping_copy\" set \"fingerprint\" = null, \"completed_at\" = null"
              + " where \"replication\" = ?" + (mapping == null ? "" : " and \"mapping\" = ?"))) {
        statement.setString(1, replication);
        if (mapping != null) {
          statement.setString(2, mapping);
        }
        updated = statement.executeUpdate();
      }
      if (mapping == null) {
        try (PreparedStatement statement = connection.prepareStatement(
            "update \"kv2pg\".\"replication\" set \"applied_sequence\" = null, \"committed_at\" = null,"
                + " \"failure\" = null, \"failed_at\" = null where \"name\" = ?")) {
          statement.setString(1, replication);
          updated += statement.executeUpdate();
        }
      }
      connection.commit();
      return updated > 0 ? Forgotten.DELETED : Forgotten.NOTHING;
    } catch (SQLException | RuntimeException e) {
      connection.rollback();
      throw e;
    }
  }

  private static boolean tablesExist(Connection connection) throws SQLException {
    try (Statement statement = connection.createStatement();
        ResultSet exists = statement.executeQuery("select to_regclass('\"kv2pg\".\"replication\"') is not null"
            + " and to_regclass('\"kv2pg\".\"mapping_copy\"') is not null")) {
      exists.next();
      return exists.getBoolean(1);
    }
  }

  private boolean tryTransactionLock(Connection connection) throws SQLException {
    try (PreparedStatement statement =
        connection.prepareStatement("select pg_try_advisory_xact_lock(?, hashtext(?))")) {
      statement.setInt(1, LOCK_CLASS);
      statement.setString(2, replication);
      try (ResultSet rows = statement.executeQuery()) {
        rows.next();
        return rows.getBoolean(1);
      }
    }
  }

  /**
   * Deletes, and commits, the replication's checkpoint row and every mapping's copy progress, or
   * only the copy progress of {@code mapping} when it is not {@code null}; refuses while a runner
   * holds the replication's lock. Holds that lock for the deleting transaction, so that no runner
   * starts meanwhile: one that starts right after finds no checkpoint (or no copy row for the
   * mapping) and copies again.
   */
  public Forgotten forget(Connection connection, String mapping) throws SQLException {
    try {
      try (Statement statement = connection.createStatement();
          ResultSet exists = statement.executeQuery("select to_regclass('\"kv2pg\".\"replication\"') is not null"
              + " and to_regclass('\"kv2pg\".\"mapping_copy\"') is not null")) {
        exists.next();
        if (!exists.getBoolean(1)) {
          connection.commit();
          return Forgotten.NOTHING;
        }
      }
      try (PreparedStatement statement =
          connection.prepareStatement("select pg_try_advisory_xact_lock(?, hashtext(?))")) {
        statement.setInt(1, LOCK_CLASS);
        statement.setString(2, replication);
        try (ResultSet rows = statement.executeQuery()) {
          rows.next();
          if (!rows.getBoolean(1)) {
            connection.rollback();
            return Forgotten.RUNNING;
          }
        }
      }
      int deleted;
      try (PreparedStatement statement = connection.prepareStatement(mapping == null
          ? "delete from \"kv2pg\".\"mapping_copy\" where \"replication\" = ?"
          : "delete from \"kv2pg\".\"mapping_copy\" where \"replication\" = ? and \"mapping\" = ?")) {
        statement.setString(1, replication);
        if (mapping != null) {
          statement.setString(2, mapping);
        }
        deleted = statement.executeUpdate();
      }
      deleteClaims(connection, mapping);
      if (mapping == null) {
        try (PreparedStatement statement =
            connection.prepareStatement("delete from \"kv2pg\".\"replication\" where \"name\" = ?")) {
          statement.setString(1, replication);
          deleted += statement.executeUpdate();
        }
      }
      connection.commit();
      return deleted > 0 ? Forgotten.DELETED : Forgotten.NOTHING;
    } catch (SQLException | RuntimeException e) {
      connection.rollback();
      throw e;
    }
  }
}
