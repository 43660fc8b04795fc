package io.kv2pg.bench;

import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * crate-style: the Rust crate's method (sled_to_postgres) rebuilt in Java. The application pushes
 * every write into an in-memory subscriber (Sled's {@code watch_prefix}); one consumer per tree
 * takes batches of up to {@value #BATCH} events, flushing a partial batch after {@value
 * #IDLE_MILLIS} ms without events, coalesces each batch per key, and runs one {@code unnest}
 * upsert and one {@code DELETE … = ANY} per batch, autocommitted: no transaction, no checkpoint.
 */
final class CrateStyle implements AutoCloseable {
  static final int BATCH = 256;
  static final long IDLE_MILLIS = 500;

  /** A subscriber event; {@code value} is null for a removal. {@code index} < 0: no lag wanted. */
  record Event(byte[] key, byte[] value, long writtenNanos, int index) {}

  private final Rows.Kind kind;
  private final Connection connection;
  private final PreparedStatement upsert;
  private final PreparedStatement delete;
  private final String[] arrayTypes;
  private final LinkedBlockingQueue<Event> subscriber = new LinkedBlockingQueue<>();
  private final AtomicLong applied = new AtomicLong();
  private final AtomicReference<Throwable> failure = new AtomicReference<>();
  private final long[] lags;
  private final Thread consumer;
  private volatile boolean closing;

  /** @param lags where the consumer stores each indexed event's lag in nanoseconds, or null */
  CrateStyle(Pg pg, Rows.Kind kind, String table, long[] lags) throws SQLException {
    this.kind = kind;
    this.lags = lags;
    this.connection = pg.connect();
    connection.setAutoCommit(true);
    String[] types = kind.arrayTypes();
    this.arrayTypes = new String[types.length];
    StringBuilder unnest = new StringBuilder();
    for (int i = 0; i < types.length; i++) {
      unnest.append(i == 0 ? "" : ", ").append("?::").append(types[i]);
      arrayTypes[i] = switch (types[i]) {
        case "bigint[]" -> "int8";
        case "integer[]" -> "int4";
        case "double precision[]" -> "float8";
        case "boolean[]" -> "bool";
        case "bytea[]" -> "bytea";
        default -> "text";
      };
    }
    upsert = connection.prepareStatement("insert into " + Rows.qualified(table) + " (" + kind.columns()
        + ") select * from unnest(" + unnest + ") on conflict (id) do update set " + kind.updateSet());
    delete = connection.prepareStatement("delete from " + Rows.qualified(table) + " where id = any(?)");
    consumer = new Thread(this::consume, "crate-style-consumer");
    consumer.setDaemon(true);
    consumer.start();
  }

  /** What the application does after each store write (Sled calls subscribers inline). */
  void publish(Event event) {
    subscriber.add(event);
  }

  /**
   * Waits until {@code count} events were applied (woken by the consumer, so that waiting costs the
   * consumer no CPU); rethrows the consumer's failure.
   */
  void awaitApplied(long count, long timeoutNanos) throws InterruptedException {
    long deadline = System.nanoTime() + timeoutNanos;
    synchronized (applied) {
      while (applied.get() < count) {
        if (failure.get() != null) {
          throw new IllegalStateException("crate-style consumer failed", failure.get());
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new IllegalStateException("crate-style applied " + applied.get() + " of " + count + " events in time");
        }
        TimeUnit.NANOSECONDS.timedWait(applied, Math.min(left, 100_000_000L));
      }
    }
  }

  private void consume() {
    List<Event> batch = new ArrayList<>(BATCH);
    try {
      while (true) {
        Event event = subscriber.poll(IDLE_MILLIS, TimeUnit.MILLISECONDS);
        if (event == null) {
          if (!batch.isEmpty()) {
            flush(batch); // idle flush
            batch.clear();
          } else if (closing) {
            return;
          }
          continue;
        }
        batch.add(event);
        if (batch.size() >= BATCH) {
          flush(batch);
          batch.clear();
        }
      }
    } catch (Throwable t) {
      failure.set(t);
      synchronized (applied) {
        applied.notifyAll();
      }
    }
  }

  private void flush(List<Event> batch) throws SQLException {
    Map<ByteBuffer, Event> latest = new LinkedHashMap<>();
    for (Event event : batch) {
      latest.put(ByteBuffer.wrap(event.key()), event);
    }
    List<Object[]> rows = new ArrayList<>();
    List<Long> removed = new ArrayList<>();
    for (Event event : latest.values()) {
      if (event.value() == null) {
        removed.add(Rows.id(event.key()));
      } else {
        rows.add(Decode.params(kind, event.key(), event.value()));
      }
    }
    long upserted = 0;
    long deleted = 0;
    if (!rows.isEmpty()) {
      for (int column = 0; column < arrayTypes.length; column++) {
        Object[] values = column == arrayTypes.length - 1 ? new byte[rows.size()][] : new Object[rows.size()];
        for (int r = 0; r < rows.size(); r++) {
          values[r] = rows.get(r)[column];
        }
        upsert.setArray(column + 1, connection.createArrayOf(arrayTypes[column], values));
      }
      upsert.executeUpdate();
      upserted = System.nanoTime();
    }
    if (!removed.isEmpty()) {
      delete.setArray(1, connection.createArrayOf("int8", removed.toArray(new Long[0])));
      delete.executeUpdate();
      deleted = System.nanoTime();
    }
    if (lags != null) {
      for (Event event : batch) {
        if (event.index() >= 0) {
          Event last = latest.get(ByteBuffer.wrap(event.key()));
          lags[event.index()] = (last.value() == null ? deleted : upserted) - event.writtenNanos();
        }
      }
    }
    synchronized (applied) {
      applied.addAndGet(batch.size());
      applied.notifyAll();
    }
  }

  @Override
  public void close() throws SQLException {
    closing = true;
    try {
      consumer.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    connection.close();
  }
}
