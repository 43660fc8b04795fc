package io.kv2pg.bench.jmh;

import io.kv2pg.internal.change.Change;
import io.kv2pg.internal.change.ChangeBatch;
import io.kv2pg.internal.change.ChangeGroup;
import io.kv2pg.internal.change.Route;
import io.kv2pg.internal.decode.FieldDecoders;
import io.kv2pg.internal.decode.FieldDecoders.JsonKind;
import io.kv2pg.internal.rocksdb.WalBatchDecoder;
import io.kv2pg.internal.table.CopyRowEncoder;
import io.kv2pg.internal.table.DeclaredTableWriter;
import io.kv2pg.internal.table.RowFormatter;
import io.kv2pg.internal.table.TableDefinition;
import io.kv2pg.internal.table.TableDefinition.Column;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * The hot path between the log and Postgres, per change: decoding write batches read from the
 * log ({@link WalBatchDecoder}, against walking them with JNI callbacks), decoding a declared table's row
 * ({@link RowFormatter}), encoding it for COPY (what {@code DeclaredTableWriter} sends), and
 * coalescing change batches per key ({@link ChangeGroup}). Narrow = int64 key and value; wide =
 * int64 key and a ~150-byte JSON value decoded into 5 typed columns, as in the harness.
 *
 * <p>Run: {@code java -cp kv2pg-bench/target/kv2pg-bench.jar org.openjdk.jmh.Main DecodeCoalesce}
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class DecodeCoalesceBenchmark {
  private static final Route ROUTE = new Route(0, "bench", 0, "bench", new byte[0]);
  static final int ROWS = 10_000;
  static final int BATCH = 100;

  private List<Change> narrow;
  private List<Change> wide;
  private List<ChangeBatch> batches;
  private TableDefinition narrowTable;
  private TableDefinition wideTable;
  private DeclaredTableWriter narrowWriter;
  private DeclaredTableWriter wideWriter;

  private WriteBatch singlePut;
  private WalBatchDecoder walDecoder;
  private CallbackHandler callbacks;

  @Setup
  public void setUpLog() throws RocksDBException {
    RocksDB.loadLibrary();
    singlePut = new WriteBatch();
    singlePut.put(new byte[16], new byte[100]);
    walDecoder = new WalBatchDecoder(); // on the benchmark thread, which uses it
    callbacks = new CallbackHandler();
  }

  @TearDown
  public void tearDownLog() {
    singlePut.close();
    walDecoder.close();
    callbacks.close();
  }

  /** A single-put batch, as most application writes are: what kv2pg's log reader does per batch. */
  @Benchmark
  public Object walDecode() throws RocksDBException {
    return walDecoder.decode(singlePut, 1);
  }

  /** The same batch walked with a JNI callback per record, as the reader did before. */
  @Benchmark
  public Object walDecodeCallbacks() throws RocksDBException {
    callbacks.records = new ArrayList<>(singlePut.count());
    singlePut.iterate(callbacks);
    return callbacks.records;
  }

  /** Collects puts through callbacks; the other record kinds do not occur here. */
  static final class CallbackHandler extends WriteBatch.Handler {
    List<byte[][]> records;

    @Override
    public void put(int columnFamilyId, byte[] key, byte[] value) {
      records.add(new byte[][] {key, value});
    }

    @Override
    public void put(byte[] key, byte[] value) {
      records.add(new byte[][] {key, value});
    }

    @Override public void merge(int columnFamilyId, byte[] key, byte[] value) {}
    @Override public void merge(byte[] key, byte[] value) {}
    @Override public void delete(int columnFamilyId, byte[] key) {}
    @Override public void delete(byte[] key) {}
    @Override public void singleDelete(int columnFamilyId, byte[] key) {}
    @Override public void singleDelete(byte[] key) {}
    @Override public void deleteRange(int columnFamilyId, byte[] beginKey, byte[] endKey) {}
    @Override public void deleteRange(byte[] beginKey, byte[] endKey) {}
    @Override public void logData(byte[] blob) {}
    @Override public void putBlobIndex(int columnFamilyId, byte[] key, byte[] value) {}
    @Override public void markBeginPrepare() {}
    @Override public void markEndPrepare(byte[] xid) {}
    @Override public void markNoop(boolean emptyBatch) {}
    @Override public void markRollback(byte[] xid) {}
    @Override public void markCommit(byte[] xid) {}
    @Override public void markCommitWithTimestamp(byte[] xid, byte[] commitTimestamp) {}
  }

  @Setup
  public void setUp() {
    narrowTable = new TableDefinition(null, "narrow",
        List.of(new Column("id", FieldDecoders.integer(8, 0, false, true))),
        List.of(new Column("v", FieldDecoders.integer(8, 0, false, true))), "kv_key", 0);
    wideTable = new TableDefinition(null, "wide",
        List.of(new Column("id", FieldDecoders.integer(8, 0, false, true))),
        List.of(new Column("customer", FieldDecoders.jsonField("customer", JsonKind.TEXT)),
            new Column("qty", FieldDecoders.jsonField("qty", JsonKind.INTEGER)),
            new Column("price", FieldDecoders.jsonField("price", JsonKind.DOUBLE)),
            new Column("active", FieldDecoders.jsonField("active", JsonKind.BOOLEAN)),
            new Column("ts", FieldDecoders.jsonField("ts", JsonKind.BIGINT))), "kv_key", 0);
    narrowWriter = new DeclaredTableWriter("narrow", "data", narrowTable, new byte[0], 0, List.of());
    wideWriter = new DeclaredTableWriter("wide", "data", wideTable, new byte[0], 1, List.of());
    narrow = new ArrayList<>();
    wide = new ArrayList<>();
    for (long id = 0; id < ROWS; id++) {
      narrow.add(new Change(ROUTE, key(id), ByteBuffer.allocate(8).putLong(id * 31).array(), id));
      String json = "{\"customer\":\"customer-" + String.format("%010d", id) + "\",\"qty\":" + (id % 1000)
          + ",\"price\":" + (id % 100000) / 100.0 + ",\"active\":" + (id % 2 == 0) + ",\"ts\":"
          + (1_700_000_000_000L + id) + ",\"note\":\"lorem ipsum dolor sit amet, consectetur adipiscing elit\"}";
      wide.add(new Change(ROUTE, key(id), json.getBytes(StandardCharsets.UTF_8), id));
    }
    // Batches as the stream makes them: one change per write, a quarter of them to keys seen before.
    SplittableRandom random = new SplittableRandom(1);
    batches = new ArrayList<>();
    long sequence = 1;
    for (int b = 0; b < ROWS / BATCH; b++) {
      List<Change> changes = new ArrayList<>();
      long weight = 0;
      long first = sequence;
      for (int i = 0; i < BATCH; i++) {
        long id = random.nextInt(4) == 0 ? random.nextLong(Math.max(1, sequence)) : sequence;
        Change change = new Change(ROUTE, key(id), random.nextInt(5) == 0 ? null : key(sequence), sequence++);
        changes.add(change);
        weight += change.weight();
      }
      batches.add(new ChangeBatch(first, sequence - 1, changes, weight));
    }
  }

  private static byte[] key(long id) {
    return ByteBuffer.allocate(8).putLong(id).array();
  }

  @Benchmark
  @OperationsPerInvocation(ROWS)
  public void formatNarrow(Blackhole bh) {
    RowFormatter formatter = new RowFormatter(narrowTable, narrowWriter);
    for (Change change : narrow) {
      bh.consume(formatter.format(change));
    }
  }

  @Benchmark
  @OperationsPerInvocation(ROWS)
  public void formatWide(Blackhole bh) {
    RowFormatter formatter = new RowFormatter(wideTable, wideWriter);
    for (Change change : wide) {
      bh.consume(formatter.format(change));
    }
  }

  @Benchmark
  @OperationsPerInvocation(ROWS)
  public long copyEncodeNarrow() {
    return copyEncode(narrowTable, narrowWriter, narrow);
  }

  @Benchmark
  @OperationsPerInvocation(ROWS)
  public long copyEncodeWide() {
    return copyEncode(wideTable, wideWriter, wide);
  }

  /** The same work as DeclaredTableWriter's COPY path, without the socket. */
  private static long copyEncode(TableDefinition table, DeclaredTableWriter writer, List<Change> changes) {
    RowFormatter formatter = new RowFormatter(table, writer);
    long[] bytes = {0};
    CopyRowEncoder row = new CopyRowEncoder((buffer, offset, length) -> bytes[0] += length);
    try {
      for (Change change : changes) {
        formatter.encode(change, row);
      }
      row.flush();
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
    return bytes[0];
  }

  @Benchmark
  @OperationsPerInvocation(ROWS)
  public void coalesce(Blackhole bh) {
    ChangeGroup group = new ChangeGroup();
    for (ChangeBatch batch : batches) {
      group.add(batch);
    }
    for (Change change : group.latest(ROUTE)) {
      bh.consume(change);
    }
  }
}
