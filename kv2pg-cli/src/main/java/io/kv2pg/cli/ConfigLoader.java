package io.kv2pg.cli;

import io.kv2pg.ColumnDecoder;
import io.kv2pg.Decoders;
import io.kv2pg.OnDataError;
import io.kv2pg.OnGap;
import io.kv2pg.Replication;
import io.kv2pg.TreeMapping;
import io.kv2pg.internal.change.KeyRanges;
import io.kv2pg.internal.postgres.PostgresConnector;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * Reads and checks a replication config file (format: docs/CONFIG.md). Every error names the file,
 * the line and the field.
 *
 * <p>Over 300 lines because it is the format's one reader: each field's check, its message and
 * its line number sit next to each other in the order of docs/CONFIG.md, which {@code
 * ConfigDocTest} holds it to; split by section, the shared line-tracking would be passed around.
 */
final class ConfigLoader {
  private static final Pattern HEX = Pattern.compile("([0-9A-Fa-f]{2})*");

  /** Decoder names and the options each takes. */
  private static final Map<String, Set<String>> DECODERS = new LinkedHashMap<>();

  static {
    for (String integer : List.of("int32", "int64", "int32-ordered", "int64-ordered")) {
      DECODERS.put(integer, Set.of("offset"));
    }
    DECODERS.put("utf8", Set.of("offset", "length"));
    DECODERS.put("bytes", Set.of("offset", "length"));
    DECODERS.put("json", Set.of());
    for (String json : List.of("json-text", "json-int", "json-long", "json-double", "json-numeric",
        "json-boolean", "json-document")) {
      DECODERS.put(json, Set.of("path"));
    }
  }

  private final Path file;
  private final Function<String, String> env;
  /** The problems found so far: the loader goes on after each one, to report them all at once. */
  private final List<ConfigException> problems = new ArrayList<>();

  private ConfigLoader(Path file, Function<String, String> env) {
    this.file = file;
    this.env = env;
  }

  /**
   * Reads a config file.
   *
   * @param env reads environment variables, for {@code password-env}
   * @throws ConfigException naming the line and the field of every problem found
   */
  static ReplicationConfig load(Path file, Function<String, String> env) {
    String text;
    try {
      byte[] bytes = Files.readAllBytes(file);
      text = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes)).toString();
    } catch (NoSuchFileException e) {
      throw new ConfigException("config file " + file + " does not exist");
    } catch (CharacterCodingException e) {
      throw new ConfigException("config file " + file + " is not UTF-8 text");
    } catch (IOException e) {
      throw new ConfigException("cannot read config file " + file + ": " + e.getMessage());
    }
    return parse(file, text, env);
  }

  /** Parses config text; {@code file} names it in messages and anchors relative paths. */
  static ReplicationConfig parse(Path file, String text, Function<String, String> env) {
    return new ConfigLoader(file, env).parse(text);
  }

  private ReplicationConfig parse(String text) {
    Node root;
    try (Reader reader = new StringReader(text)) {
      LoaderOptions options = new LoaderOptions();
      options.setAllowDuplicateKeys(false);
      root = new Yaml(options).compose(reader);
    } catch (MarkedYAMLException e) {
      int line = e.getProblemMark() != null ? e.getProblemMark().getLine() + 1
          : e.getContextMark() != null ? e.getContextMark().getLine() + 1 : 0;
      throw ConfigException.at(file, line, null, "not valid YAML: "
          + (e.getProblem() != null ? e.getProblem() : e.getMessage()));
    } catch (YAMLException e) {
      throw ConfigException.at(file, 0, null, "not valid YAML: " + e.getMessage());
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    if (root == null) {
      throw ConfigException.at(file, 1, null, "the file is empty; see docs/CONFIG.md for the format");
    }
    Fields top = fields(root, "", Set.of("name", "on-gap", "on-data-error", "rocksdb", "postgres",
        "tables"));
    String name = attempt(() -> {
      Node nameNode = top.required("name");
      String value = string(nameNode, "name");
      try {
        Replication.builder().name(value); // The builder owns the rule; its message names the property.
      } catch (IllegalArgumentException e) {
        throw error(nameNode, "name", e.getMessage().substring("name ".length()));
      }
      return value;
    });

    Fields rocksdb = attempt(() -> fields(top.required("rocksdb"), "rocksdb", Set.of("path", "secondary-path")));
    Node pathNode = rocksdb == null ? null : attempt(() -> rocksdb.required("path"));
    Path store = pathNode == null ? null : attempt(() -> path(pathNode, "rocksdb.path"));
    Path secondary = rocksdb == null || !rocksdb.has("secondary-path") ? null
        : attempt(() -> path(rocksdb.get("secondary-path"), "rocksdb.secondary-path"));

    Fields postgres = attempt(() -> fields(top.required("postgres"), "postgres",
        Set.of("url", "password-env", "password-file")));
    Node urlNode = postgres == null ? null : attempt(() -> postgres.required("url"));
    String url = urlNode == null ? null : attempt(() -> {
      String value = string(urlNode, "postgres.url");
      String urlProblem = PostgresConnector.urlProblem(value);
      if (urlProblem != null) {
        throw error(urlNode, "postgres.url", urlProblem);
      }
      return value;
    });
    String[] password = {null};
    if (postgres != null) {
      attempt(() -> password[0] = password(postgres));
    }

    List<TableConfig> tables = new ArrayList<>();
    Node tablesNode = attempt(() -> top.required("tables"));
    if (tablesNode != null && !(tablesNode instanceof SequenceNode)) {
      problems.add(error(tablesNode, "tables", "must be a list of tables (lines starting with '- ')"));
    } else if (tablesNode instanceof SequenceNode sequence && sequence.getValue().isEmpty()) {
      problems.add(error(tablesNode, "tables", "must hold at least one table"));
    } else if (tablesNode instanceof SequenceNode sequence) {
      Set<String> mappingNames = new HashSet<>();
      for (int i = 0; i < sequence.getValue().size(); i++) {
        Node tableNode = sequence.getValue().get(i);
        String field = "tables[" + i + "]";
        TableConfig table = attempt(() -> table(tableNode, field));
        if (table == null) {
          continue;
        }
        String mappingName = table.name() != null ? table.name()
            : table.prefix().length == 0 ? table.columnFamily()
            : table.columnFamily() + "/" + HexFormat.of().formatHex(table.prefix());
        if (!mappingNames.add(mappingName)) {
          problems.add(error(tableNode, field, "a second table reads column family '"
              + table.columnFamily() + "' with the same prefix; give one a distinct 'name'"));
        }
        tables.add(table);
      }
    }
    OnDataError onDataError = !top.has("on-data-error") ? OnDataError.FAIL
        : attempt(() -> choice(top.get("on-data-error"), "on-data-error", OnDataError.values()));
    OnGap onGap = !top.has("on-gap") ? OnGap.FAIL : attempt(() -> choice(top.get("on-gap"), "on-gap", OnGap.values()));
    if (!problems.isEmpty()) {
      throw ConfigException.of(file, problems);
    }
    return new ReplicationConfig(file, name, onGap, store, line(pathNode), secondary,
        new ReplicationConfig.PostgresConfig(url, password[0], line(urlNode)), tables, onDataError);
  }

  /**
   * Runs one check; a problem it finds is noted, and the loader goes on with the next check.
   *
   * @return the check's result, or {@code null} if it found a problem
   */
  private <T> T attempt(java.util.function.Supplier<T> check) {
    try {
      return check.get();
    } catch (ConfigException e) {
      problems.add(e);
      return null;
    } catch (AlreadyNoted e) {
      return null;
    }
  }

  /** Ends a check whose problems are noted already, such as a field missing next to a misspelt one. */
  private static final class AlreadyNoted extends RuntimeException {
    private static final long serialVersionUID = 1L;

    AlreadyNoted() {
      super(null, null, false, false);
    }
  }

  private String password(Fields postgres) {
    if (postgres.has("password-env") && postgres.has("password-file")) {
      throw error(postgres.get("password-file"), "postgres.password-file",
          "give either password-env or password-file, not both");
    }
    if (postgres.has("password-env")) {
      Node node = postgres.get("password-env");
      String variable = string(node, "postgres.password-env");
      String value = env.apply(variable);
      if (value == null) {
        throw error(node, "postgres.password-env", "the environment variable " + variable + " is not set");
      }
      return value;
    }
    if (postgres.has("password-file")) {
      Node node = postgres.get("password-file");
      Path passwordFile = path(node, "postgres.password-file");
      try {
        List<String> lines = Files.readAllLines(passwordFile, StandardCharsets.UTF_8);
        if (lines.isEmpty() || lines.get(0).isEmpty()) {
          throw error(node, "postgres.password-file", "the file " + passwordFile + " is empty");
        }
        return lines.get(0);
      } catch (NoSuchFileException e) {
        throw error(node, "postgres.password-file", "the file " + passwordFile + " does not exist");
      } catch (IOException e) {
        throw error(node, "postgres.password-file", "cannot read " + passwordFile + ": " + e.getMessage());
      }
    }
    return env.apply("PGPASSWORD");
  }

  private TableConfig table(Node node, String field) {
    Fields table = fields(node, field, Set.of("name", "column-family", "prefix", "prefix-hex", "key-range",
        "table", "raw-key-column", "key", "values", "create-commands", "partitions"));
    String name = table.has("name") ? string(table.get("name"), field + ".name") : null;
    Node familyNode = table.required("column-family");
    String family = string(familyNode, field + ".column-family");
    byte[] prefix = new byte[0];
    if (table.has("prefix") && table.has("prefix-hex")) {
      throw error(table.get("prefix-hex"), field + ".prefix-hex", "give either prefix or prefix-hex, not both");
    }
    if (table.has("prefix")) {
      prefix = text(table.get("prefix"), field + ".prefix").getBytes(StandardCharsets.UTF_8);
    } else if (table.has("prefix-hex")) {
      String hex = text(table.get("prefix-hex"), field + ".prefix-hex");
      if (!HEX.matcher(hex).matches()) {
        throw error(table.get("prefix-hex"), field + ".prefix-hex",
            "must be an even number of hex digits, such as 0a1b, but was '" + hex + "'");
      }
      prefix = HexFormat.of().parseHex(hex);
    }
    byte[][] keyRange = table.has("key-range") ? keyRange(table.get("key-range"), field + ".key-range", prefix) : null;
    Node tableNode = table.required("table");
    String tableName = string(tableNode, field + ".table");
    String[] parts = tableName.split("\\.", -1);
    if (parts.length > 2 || java.util.Arrays.stream(parts).anyMatch(String::isBlank)) {
      throw error(tableNode, field + ".table", "must be 'table' or 'schema.table' but was '" + tableName + "'");
    }
    String rawKey = table.has("raw-key-column") ? string(table.get("raw-key-column"), field + ".raw-key-column") : null;
    int problemsBefore = problems.size();
    Set<String> columnNames = new HashSet<>();
    List<TableConfig.Column> keys = table.has("key")
        ? columns(table.get("key"), field + ".key", columnNames) : List.of();
    List<TableConfig.Column> values = table.has("values")
        ? columns(table.get("values"), field + ".values", columnNames) : List.of();
    if (problems.size() > problemsBefore) {
      throw new AlreadyNoted();
    }
    String effectiveRawKey = rawKey == null ? "kv_key" : rawKey;
    if (columnNames.contains(effectiveRawKey)) {
      throw error(table.has("raw-key-column") ? table.get("raw-key-column") : node, field
          + (rawKey == null ? "" : ".raw-key-column"), "column '" + effectiveRawKey + "' is both a declared"
          + " column and the raw key column; set raw-key-column to another name");
    }
    String create = table.has("create-commands") ? string(table.get("create-commands"), field + ".create-commands") : null;
    int partitions = table.has("partitions")
        ? inRange(table.get("partitions"), field + ".partitions", 1, TreeMapping.MAX_PARTITIONS) : 0;
    if (partitions > 0) {
      try {
        // The builder owns the rule on the partitions' names; its message names the property.
        TreeMapping.builder("config").table(parts[parts.length - 1]).partitions(partitions).build();
      } catch (IllegalStateException e) {
        String message = e.getMessage();
        throw error(table.get("partitions"), field + ".partitions",
            message.startsWith("partitions: ") ? message.substring("partitions: ".length()) : message);
      }
    }
    return new TableConfig(name, family, line(familyNode), prefix, tableName, rawKey, keys, values, create,
        partitions, keyRange == null ? null : keyRange[0], keyRange == null ? null : keyRange[1]);
  }

  /**
   * Reads {@code key-range: {from: ..., until: ...}} (or {@code from-hex}, {@code until-hex}):
   * whole keys, prefix included; {@code until} may be left out for the end of the prefix.
   *
   * @return {@code {from, until}}, {@code until} {@code null} when left out
   */
  private byte[][] keyRange(Node node, String field, byte[] prefix) {
    Fields range = fields(node, field, Set.of("from", "from-hex", "until", "until-hex"));
    byte[] from = bound(range, field, "from");
    if (from == null) {
      throw error(node, field + ".from", "this required field is missing: the first key of the range, as 'from'"
          + " (UTF-8) or 'from-hex'");
    }
    byte[] until = bound(range, field, "until");
    HexFormat hex = HexFormat.of();
    Node fromNode = range.has("from") ? range.get("from") : range.get("from-hex");
    if (from.length < prefix.length || !java.util.Arrays.equals(from, 0, prefix.length, prefix, 0, prefix.length)) {
      throw error(fromNode, field + ".from", "must start with the prefix (" + hex.formatHex(prefix) + ") but was "
          + hex.formatHex(from) + ": both bounds are whole keys, prefix included");
    }
    if (until != null && java.util.Arrays.compareUnsigned(from, until) >= 0) {
      throw error(range.has("until") ? range.get("until") : range.get("until-hex"), field + ".until",
          "must come after from (" + hex.formatHex(from) + ") but was " + hex.formatHex(until)
              + ": the range is [from, until)");
    }
    byte[] prefixEnd = KeyRanges.prefixEnd(prefix);
    if (until != null && prefixEnd != null && java.util.Arrays.compareUnsigned(until, prefixEnd) > 0) {
      throw error(range.has("until") ? range.get("until") : range.get("until-hex"), field + ".until",
          "lies past the keys of the prefix (" + hex.formatHex(prefix) + "), which end before "
              + hex.formatHex(prefixEnd) + "; leave until out to reach the end of the prefix");
    }
    return new byte[][] {from, until};
  }

  /** Reads one bound of a key range, as text or hex; {@code null} if neither is given. */
  private byte[] bound(Fields range, String field, String name) {
    if (range.has(name) && range.has(name + "-hex")) {
      throw error(range.get(name + "-hex"), field + "." + name + "-hex", "give either " + name + " or " + name
          + "-hex, not both");
    }
    if (range.has(name)) {
      return text(range.get(name), field + "." + name).getBytes(StandardCharsets.UTF_8);
    }
    if (!range.has(name + "-hex")) {
      return null;
    }
    String hex = text(range.get(name + "-hex"), field + "." + name + "-hex");
    if (!HEX.matcher(hex).matches()) {
      throw error(range.get(name + "-hex"), field + "." + name + "-hex",
          "must be an even number of hex digits, such as 0a1b, but was '" + hex + "'");
    }
    return HexFormat.of().parseHex(hex);
  }

  private List<TableConfig.Column> columns(Node node, String field, Set<String> names) {
    if (!(node instanceof MappingNode mapping)) {
      throw error(node, field, "must map column names to decoders, such as 'id: int64'");
    }
    List<TableConfig.Column> columns = new ArrayList<>();
    for (NodeTuple tuple : mapping.getValue()) {
      String column = key(tuple.getKeyNode(), field);
      String columnField = field + "." + column;
      if (!names.add(column)) {
        problems.add(error(tuple.getKeyNode(), columnField, "column '" + column + "' is declared twice"));
        continue;
      }
      ColumnDecoder decoder = attempt(() -> decoder(tuple.getValueNode(), columnField, column));
      if (decoder != null) {
        columns.add(new TableConfig.Column(column, decoder));
      }
    }
    return columns;
  }

  private ColumnDecoder decoder(Node node, String field, String column) {
    String name;
    Fields options;
    Node nameNode;
    if (node instanceof ScalarNode) {
      nameNode = node;
      name = string(node, field);
      options = null;
    } else if (node instanceof MappingNode) {
      options = fields(node, field, Set.of("decoder", "path", "offset", "length"));
      nameNode = options.required("decoder");
      name = string(nameNode, field + ".decoder");
    } else {
      throw error(node, field, "must be a decoder name, such as int64, or a mapping such as"
          + " {decoder: json-text, path: customer.name}");
    }
    String nameField = options == null ? field : field + ".decoder";
    Set<String> allowed = DECODERS.get(name);
    if (allowed == null) {
      throw error(nameNode, nameField, "unknown decoder '" + name + "'; known decoders: "
          + String.join(", ", DECODERS.keySet()));
    }
    if (options != null) {
      for (Map.Entry<String, NodeTuple> option : options.all.entrySet()) {
        String key = option.getKey();
        if (!key.equals("decoder") && !allowed.contains(key)) {
          throw error(option.getValue().getKeyNode(), field + "." + key, "decoder " + name + " takes "
              + (allowed.isEmpty() ? "no options" : "only " + String.join(" and ", new java.util.TreeSet<>(allowed))));
        }
      }
    }
    Integer offset = options != null && options.has("offset") ? nonNegative(options.get("offset"), field + ".offset") : null;
    Integer length = options != null && options.has("length") ? nonNegative(options.get("length"), field + ".length") : null;
    String path = options != null && options.has("path") ? string(options.get("path"), field + ".path") : column;
    try {
      return switch (name) {
        case "int32" -> offset == null ? Decoders.int32() : Decoders.int32At(offset);
        case "int64" -> offset == null ? Decoders.int64() : Decoders.int64At(offset);
        case "int32-ordered" -> offset == null ? Decoders.int32Ordered() : Decoders.int32OrderedAt(offset);
        case "int64-ordered" -> offset == null ? Decoders.int64Ordered() : Decoders.int64OrderedAt(offset);
        case "utf8" -> length != null ? Decoders.utf8At(offset == null ? 0 : offset, length)
            : offset != null ? Decoders.utf8From(offset) : Decoders.utf8();
        case "bytes" -> length != null ? Decoders.bytesAt(offset == null ? 0 : offset, length)
            : offset != null ? Decoders.bytesFrom(offset) : Decoders.bytes();
        case "json" -> Decoders.json();
        case "json-text" -> Decoders.jsonText(path);
        case "json-int" -> Decoders.jsonInt(path);
        case "json-long" -> Decoders.jsonLong(path);
        case "json-double" -> Decoders.jsonDouble(path);
        case "json-numeric" -> Decoders.jsonNumeric(path);
        case "json-boolean" -> Decoders.jsonBoolean(path);
        case "json-document" -> Decoders.jsonDocument(path);
        default -> throw new IllegalStateException(name);
      };
    } catch (IllegalArgumentException e) {
      throw error(node, field, e.getMessage());
    }
  }

  // ------------------------------------------------------------------ node helpers

  /** The fields of a mapping, checked against the allowed names. */
  private final class Fields {
    final Node node;
    final String field;
    final Map<String, NodeTuple> all = new LinkedHashMap<>();
    /** Whether the mapping has an unknown field. */
    boolean misspelt;

    Fields(Node node, String field) {
      this.node = node;
      this.field = field;
    }

    boolean has(String name) {
      NodeTuple tuple = all.get(name);
      return tuple != null && !isNull(tuple.getValueNode());
    }

    Node get(String name) {
      return all.get(name).getValueNode();
    }

    Node required(String name) {
      NodeTuple tuple = all.get(name);
      if (tuple == null && misspelt) {
        throw new AlreadyNoted(); // Most likely the unknown field, reported as such.
      }
      if (tuple == null) {
        throw error(node, qualify(field, name), "this required field is missing");
      }
      if (isNull(tuple.getValueNode())) {
        throw error(tuple.getKeyNode(), qualify(field, name), "is empty");
      }
      return tuple.getValueNode();
    }
  }

  private Fields fields(Node node, String field, Set<String> allowed) {
    if (!(node instanceof MappingNode mapping)) {
      throw error(node, field.isEmpty() ? null : field, "must be a mapping of 'field: value' lines"
          + (field.isEmpty() ? " (see docs/CONFIG.md)" : ""));
    }
    Fields fields = new Fields(node, field);
    for (NodeTuple tuple : mapping.getValue()) {
      String key = attempt(() -> key(tuple.getKeyNode(), field));
      if (key == null) {
        continue;
      }
      if (!allowed.contains(key)) {
        fields.misspelt = true;
        problems.add(error(tuple.getKeyNode(), qualify(field, key), "unknown field '" + key + "'; expected "
            + String.join(", ", allowed.stream().sorted().toList())));
      } else if (fields.all.putIfAbsent(key, tuple) != null) {
        problems.add(error(tuple.getKeyNode(), qualify(field, key), "is given twice"));
      }
    }
    return fields;
  }

  private String key(Node node, String field) {
    if (!(node instanceof ScalarNode scalar) || isNull(node)) {
      throw error(node, field, "keys must be plain names");
    }
    return scalar.getValue();
  }

  private static boolean isNull(Node node) {
    return node instanceof ScalarNode && node.getTag().equals(Tag.NULL);
  }

  /** A non-empty scalar, as written. */
  private String string(Node node, String field) {
    String value = text(node, field);
    if (value.isBlank()) {
      throw error(node, field, "must not be empty");
    }
    return value;
  }

  /** One of {@code values}, written in lower case with '-' for '_' ({@code dead-letter}). */
  private <E extends Enum<E>> E choice(Node node, String field, E[] values) {
    String value = string(node, field);
    List<String> spelt = new ArrayList<>();
    for (E candidate : values) {
      String name = candidate.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
      if (name.equals(value.trim())) {
        return candidate;
      }
      spelt.add(name);
    }
    throw error(node, field, "must be one of " + String.join(", ", spelt) + ", not '" + value + "'");
  }

  /** A scalar, as written (may be empty). */
  private String text(Node node, String field) {
    if (!(node instanceof ScalarNode scalar)) {
      throw error(node, field, "must be a single value, not a " + (node instanceof SequenceNode ? "list" : "mapping"));
    }
    return isNull(node) ? "" : scalar.getValue();
  }

  private int nonNegative(Node node, String field) {
    String value = text(node, field);
    try {
      int number = Integer.parseInt(value.trim());
      if (number >= 0) {
        return number;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw error(node, field, "must be a whole number, 0 or more, but was '" + value + "'");
  }

  private int inRange(Node node, String field, int min, int max) {
    String value = text(node, field);
    try {
      int number = Integer.parseInt(value.trim());
      if (number >= min && number <= max) {
        return number;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw error(node, field, "must be a whole number from " + min + " to " + max + ", but was '" + value + "'");
  }

  private Path path(Node node, String field) {
    String value = string(node, field);
    if (value.startsWith("~/")) {
      value = System.getProperty("user.home") + value.substring(1);
    }
    try {
      Path path = Path.of(value);
      if (!path.isAbsolute()) {
        Path base = file.toAbsolutePath().getParent();
        path = base == null ? path.toAbsolutePath() : base.resolve(path);
      }
      return path.normalize();
    } catch (java.nio.file.InvalidPathException e) {
      throw error(node, field, "is not a valid path: " + e.getMessage());
    }
  }

  private static int line(Node node) {
    return node.getStartMark() == null ? 0 : node.getStartMark().getLine() + 1;
  }

  private static String qualify(String field, String name) {
    return field.isEmpty() ? name : field + "." + name;
  }

  private ConfigException error(Node node, String field, String problem) {
    return ConfigException.at(file, line(node), field, problem);
  }
}
