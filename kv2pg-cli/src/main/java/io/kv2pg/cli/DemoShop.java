package io.kv2pg.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The demo's small shop, kept in a RocksDB store the way an application would keep it: three
 * column families with big-endian integer keys and JSON values.
 *
 * <ul>
 *   <li>{@code customers}: key = customer id (8 bytes); value {@code {"name","email","country"}}
 *   <li>{@code orders}: key = order id (8 bytes); value {@code {"customer_id","status","created_at",
 *       "shipping":{"city","country"}}}
 *   <li>{@code order_lines}: key = order id (8 bytes) + line number (4 bytes); value {@code
 *       {"product","qty","unit_price"}}
 * </ul>
 *
 * An order and its lines are always written in one {@link WriteBatch}, so that every state of the
 * store satisfies the foreign keys orders → customers and order_lines → orders. Used by one thread.
 */
final class DemoShop {
  static final String CUSTOMERS = "customers";
  static final String ORDERS = "orders";
  static final String ORDER_LINES = "order_lines";

  private static final String[] FIRST = {"Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Margaret",
      "Ken", "Frances", "John", "Radia", "Leslie", "Sophie", "Tim", "Hedy", "Niklaus", "Lynn", "Dennis"};
  private static final String[] LAST = {"Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth",
      "Hamilton", "Thompson", "Allen", "Backus", "Perlman", "Lamport", "Wilson", "Berners-Lee", "Lamarr",
      "Wirth", "Conway", "Ritchie"};
  private static final String[][] PLACES = {{"Paris", "FR"}, {"Lyon", "FR"}, {"Berlin", "DE"},
      {"Hamburg", "DE"}, {"London", "GB"}, {"Leeds", "GB"}, {"Madrid", "ES"}, {"Milan", "IT"},
      {"Warsaw", "PL"}, {"Oslo", "NO"}, {"Lisbon", "PT"}, {"Vienna", "AT"}};
  private static final Object[][] PRODUCTS = {{"Espresso cup", "4.50"}, {"Coffee grinder", "89.00"},
      {"French press", "32.90"}, {"Kettle", "45.00"}, {"Beans 1 kg", "18.75"}, {"Milk jug", "12.40"},
      {"Scale", "24.99"}, {"Filter papers", "3.20"}, {"Travel mug", "15.00"}, {"Tamper", "19.90"}};
  /** Statuses of seeded orders, weighted: older orders have moved on. */
  private static final String[] SEED_STATUSES = {"open", "open", "open", "paid", "paid", "paid", "shipped",
      "shipped", "delivered", "delivered", "delivered", "cancelled"};
  private static final Instant EPOCH = Instant.parse("2024-01-01T00:00:00Z");

  private final RocksDB db;
  private final ColumnFamilyHandle customers;
  private final ColumnFamilyHandle orders;
  private final ColumnFamilyHandle lines;
  private final Random random;
  private final ObjectMapper json = new ObjectMapper();
  private final WriteOptions writeOptions = new WriteOptions();

  private final List<Long> customerIds = new ArrayList<>();
  private final List<Long> orderIds = new ArrayList<>();
  private final Map<Long, Integer> orderIndex = new HashMap<>();
  private final Map<Long, Integer> lineCounts = new HashMap<>();
  private long nextCustomer = 1;
  private long nextOrder = 1;
  private Instant clock = EPOCH;
  private boolean seeding;
  private long seededCustomers;
  private long seededOrders;
  private long seededLines;

  final AtomicLong writes = new AtomicLong();
  final AtomicLong inserts = new AtomicLong();
  final AtomicLong updates = new AtomicLong();
  final AtomicLong deletes = new AtomicLong();

  DemoShop(RocksDB db, Map<String, ColumnFamilyHandle> families, long seed) {
    this.db = db;
    this.customers = families.get(CUSTOMERS);
    this.orders = families.get(ORDERS);
    this.lines = families.get(ORDER_LINES);
    this.random = new Random(seed);
  }

  static byte[] id(long id) {
    return ByteBuffer.allocate(8).putLong(id).array();
  }

  static byte[] lineKey(long order, int line) {
    return ByteBuffer.allocate(12).putLong(order).putInt(line).array();
  }

  /**
   * Fills the store with {@code orderCount} orders (1 to 4 lines each) of {@code orderCount / 5}
   * customers (at least 10).
   *
   * @return how many entries the store holds: one per row of the three tables
   */
  long seed(int orderCount) throws RocksDBException {
    long entries = 0;
    seeding = true;
    int customerCount = Math.max(10, orderCount / 5);
    try (WriteBatch batch = new WriteBatch()) {
      for (int i = 0; i < customerCount; i++) {
        putCustomer(batch, nextCustomer++);
        entries++;
        if (batch.count() >= 5_000) {
          db.write(writeOptions, batch);
          batch.clear();
        }
      }
      for (int i = 0; i < orderCount; i++) {
        entries += putOrder(batch, nextOrder++, randomCustomer());
        if (batch.count() >= 5_000) {
          db.write(writeOptions, batch);
          batch.clear();
        }
      }
      db.write(writeOptions, batch);
    }
    seeding = false;
    seededCustomers = customerCount;
    seededOrders = orderCount;
    seededLines = entries - customerCount - orderCount;
    return entries;
  }

  /** "4,000 customers, 20,000 orders and 50,272 order lines", as seeded. */
  String describeSeed() {
    return String.format(java.util.Locale.ROOT, "%,d customers, %,d orders and %,d order lines", seededCustomers,
        seededOrders, seededLines);
  }

  /** Makes one random change, in one write batch: a new order, an update, or a delete. */
  void writeOne() throws RocksDBException {
    int dice = random.nextInt(100);
    try (WriteBatch batch = new WriteBatch()) {
      if (dice < 25 || orderIds.size() < 10) {
        long customer = random.nextInt(10) == 0 ? newCustomer(batch) : randomCustomer();
        putOrder(batch, nextOrder++, customer);
        inserts.incrementAndGet();
      } else if (dice < 55) {
        advanceOrder(batch);
        updates.incrementAndGet();
      } else if (dice < 70) {
        changeLine(batch);
        updates.incrementAndGet();
      } else if (dice < 80) {
        renameCustomer(batch);
        updates.incrementAndGet();
      } else if (dice < 90) {
        removeLastLine(batch);
        deletes.incrementAndGet();
      } else {
        removeOrder(batch);
        deletes.incrementAndGet();
      }
      db.write(writeOptions, batch);
    }
    writes.incrementAndGet();
  }

  /** "1,234 writes: 300 inserts, 700 updates, 234 deletes". */
  String describeWrites() {
    return String.format(java.util.Locale.ROOT, "%,d writes (%,d inserts, %,d updates, %,d deletes)",
        writes.get(), inserts.get(), updates.get(), deletes.get());
  }

  // ------------------------------------------------------------------ changes

  private long newCustomer(WriteBatch batch) throws RocksDBException {
    long id = nextCustomer++;
    putCustomer(batch, id);
    return id;
  }

  private void putCustomer(WriteBatch batch, long id) throws RocksDBException {
    String first = FIRST[random.nextInt(FIRST.length)];
    String last = LAST[random.nextInt(LAST.length)];
    ObjectNode customer = json.createObjectNode()
        .put("name", first + " " + last)
        .put("email", (first + "." + last).toLowerCase(java.util.Locale.ROOT) + id + "@example.com")
        .put("country", PLACES[random.nextInt(PLACES.length)][1]);
    batch.put(customers, id(id), bytes(customer));
    customerIds.add(id);
  }

  /** Puts an order with 1 to 4 lines; returns how many entries it wrote. */
  private int putOrder(WriteBatch batch, long id, long customer) throws RocksDBException {
    clock = clock.plus(1 + random.nextInt(300), ChronoUnit.SECONDS);
    String[] place = PLACES[random.nextInt(PLACES.length)];
    ObjectNode order = json.createObjectNode()
        .put("customer_id", customer)
        .put("status", seeding ? SEED_STATUSES[random.nextInt(SEED_STATUSES.length)] : "open")
        .put("created_at", clock.toString());
    order.putObject("shipping").put("city", place[0]).put("country", place[1]);
    batch.put(orders, id(id), bytes(order));
    int count = 1 + random.nextInt(4);
    for (int line = 1; line <= count; line++) {
      batch.put(lines, lineKey(id, line), bytes(line()));
    }
    orderIndex.put(id, orderIds.size());
    orderIds.add(id);
    lineCounts.put(id, count);
    return 1 + count;
  }

  private ObjectNode line() {
    Object[] product = PRODUCTS[random.nextInt(PRODUCTS.length)];
    return json.createObjectNode()
        .put("product", (String) product[0])
        .put("qty", 1 + random.nextInt(5))
        .put("unit_price", new BigDecimal((String) product[1]));
  }

  private void advanceOrder(WriteBatch batch) throws RocksDBException {
    long id = randomOrder();
    ObjectNode order = read(orders, id(id));
    String status = order.path("status").asText();
    String next = switch (status) {
      case "open" -> random.nextInt(8) == 0 ? "cancelled" : "paid";
      case "paid" -> "shipped";
      case "shipped" -> "delivered";
      default -> status;
    };
    order.put("status", next);
    batch.put(orders, id(id), bytes(order));
  }

  private void changeLine(WriteBatch batch) throws RocksDBException {
    long id = randomOrder();
    int line = 1 + random.nextInt(lineCounts.get(id));
    ObjectNode value = read(lines, lineKey(id, line));
    value.put("qty", 1 + random.nextInt(9));
    batch.put(lines, lineKey(id, line), bytes(value));
  }

  private void renameCustomer(WriteBatch batch) throws RocksDBException {
    long id = randomCustomer();
    ObjectNode customer = read(customers, id(id));
    String name = customer.path("name").asText();
    customer.put("email", name.toLowerCase(java.util.Locale.ROOT).replace(' ', '_') + id + "@mail.example.org");
    batch.put(customers, id(id), bytes(customer));
  }

  private void removeLastLine(WriteBatch batch) throws RocksDBException {
    long id = randomOrder();
    int count = lineCounts.get(id);
    if (count > 1) {
      batch.delete(lines, lineKey(id, count));
      lineCounts.put(id, count - 1);
    } else {
      removeOrder(batch, id);
    }
  }

  private void removeOrder(WriteBatch batch) throws RocksDBException {
    removeOrder(batch, randomOrder());
  }

  /** Deletes an order and, with one range delete, all its lines. */
  private void removeOrder(WriteBatch batch, long id) throws RocksDBException {
    batch.deleteRange(lines, lineKey(id, 0), lineKey(id + 1, 0));
    batch.delete(orders, id(id));
    int index = orderIndex.remove(id);
    long last = orderIds.remove(orderIds.size() - 1);
    if (last != id) {
      orderIds.set(index, last);
      orderIndex.put(last, index);
    }
    lineCounts.remove(id);
  }

  // ------------------------------------------------------------------ helpers

  private long randomCustomer() {
    return customerIds.get(random.nextInt(customerIds.size()));
  }

  private long randomOrder() {
    return orderIds.get(random.nextInt(orderIds.size()));
  }

  private ObjectNode read(ColumnFamilyHandle family, byte[] key) throws RocksDBException {
    byte[] value = db.get(family, key);
    if (value == null) {
      throw new IllegalStateException("the demo lost track of key " + java.util.HexFormat.of().formatHex(key));
    }
    try {
      return (ObjectNode) json.readTree(value);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private byte[] bytes(ObjectNode node) {
    try {
      return json.writeValueAsBytes(node);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  void close() {
    writeOptions.close();
  }
}
