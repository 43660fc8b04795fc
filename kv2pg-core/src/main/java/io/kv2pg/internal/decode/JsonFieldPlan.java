package io.kv2pg.internal.decode;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.BigIntegerNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.DecimalNode;
import com.fasterxml.jackson.databind.node.DoubleNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.kv2pg.internal.decode.FieldDecoders.JsonKind;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON fields a row's columns read, found in one streaming pass over the document instead of
 * building its whole tree: on a wide initial copy the tree of every value, fields no column reads
 * included, cost more than the rest of the row's work.
 *
 * <p>The result is what {@code readTree(document).at(pointer)} gives for each pointer, node for
 * node: the last of duplicate names wins, a path through a scalar or a missing name is missing,
 * numbers keep their exact form. The whole document is still parsed, so malformed JSON fails as
 * it would for the tree; the strings of fields that no column reads are skipped, not decoded.
 * Immutable and thread-safe.
 */
public final class JsonFieldPlan {
  /** The planned pointers; a pointer's slot is its index. */
  private final JsonPointer[] pointers;
  private final Step root;

  private JsonFieldPlan(JsonPointer[] pointers, Step root) {
    this.pointers = pointers;
    this.root = root;
  }

  /**
   * Returns a plan for the fields read by {@code decoders}, or {@code null} when none reads a
   * field or one reads the whole document (which needs the tree anyway).
   */
  public static JsonFieldPlan of(List<FieldDecoder> decoders) {
    Map<JsonPointer, Boolean> onlyDouble = new LinkedHashMap<>();
    for (FieldDecoder decoder : decoders) {
      if (decoder instanceof FieldDecoders.WholeJson) {
        return null;
      }
      if (decoder instanceof FieldDecoders.JsonField field) {
        onlyDouble.merge(field.pointer(), field.kind() == JsonKind.DOUBLE, Boolean::logicalAnd);
      }
    }
    if (onlyDouble.isEmpty()) {
      return null;
    }
    JsonPointer[] pointers = onlyDouble.keySet().toArray(JsonPointer[]::new);
    Step root = new Step();
    for (int slot = 0; slot < pointers.length; slot++) {
      Step step = root;
      for (JsonPointer rest = pointers[slot]; !rest.matches(); rest = rest.tail()) {
        step = step.child(rest.getMatchingProperty(), rest.getMatchingIndex());
      }
      step.slot = slot;
      step.asDouble = onlyDouble.get(pointers[slot]);
    }
    root.collectSlots();
    return new JsonFieldPlan(pointers, root);
  }

  /** Returns the slot of {@code pointer} in {@link #extract}'s result, or -1 if not planned. */
  int slot(JsonPointer pointer) {
    // Called per column and row with the decoder's own pointer: identity finds it in a few steps.
    for (int i = 0; i < pointers.length; i++) {
      if (pointers[i] == pointer) {
        return i;
      }
    }
    for (int i = 0; i < pointers.length; i++) {
      if (pointers[i].equals(pointer)) {
        return i;
      }
    }
    return -1;
  }

  /**
   * Returns the planned fields' nodes, by slot; {@link MissingNode} for those the document lacks.
   *
   * @throws IOException if the bytes are not one valid JSON document
   */
  JsonNode[] extract(ObjectMapper mapper, byte[] bytes, int offset, int length) throws IOException {
    JsonNode[] found = new JsonNode[pointers.length];
    Arrays.fill(found, MissingNode.getInstance());
    try (JsonParser parser = mapper.getFactory().createParser(bytes, offset, length)) {
      JsonToken token = parser.nextToken();
      if (token == null) {
        throw new IOException("empty input");
      }
      visit(mapper, parser, token, root, found);
    }
    return found;
  }

  /** Reads the value at the parser's current token, which the plan reaches through {@code step}. */
  private static void visit(ObjectMapper mapper, JsonParser parser, JsonToken token, Step step,
      JsonNode[] found) throws IOException {
    if (step.slot >= 0) {
      JsonNode node = step.asDouble && token.isNumeric()
          ? doubleNode(parser)
          : scalar(parser, token);
      if (node == null) {
        node = mapper.readTree(parser); // A container: its tree also answers deeper paths.
      }
      found[step.slot] = node;
      for (Step deeper : step.descendants) {
        found[deeper.slot] = node.at(deeper.pointerFrom(step));
      }
      return;
    }
    if (token == JsonToken.START_OBJECT && step.byName != null) {
      for (token = parser.nextToken(); token == JsonToken.FIELD_NAME; token = parser.nextToken()) {
        Step child = step.child(parser.currentName());
        JsonToken value = parser.nextToken();
        if (child == null) {
          parser.skipChildren();
        } else {
          child.clear(found); // A later duplicate name replaces the earlier value, as in a tree.
          visit(mapper, parser, value, child, found);
        }
      }
    } else if (token == JsonToken.START_ARRAY && step.byIndex != null) {
      int index = 0;
      for (token = parser.nextToken(); token != null && token != JsonToken.END_ARRAY;
          token = parser.nextToken()) {
        Step child = step.byIndex.get(index++);
        if (child == null) {
          parser.skipChildren();
        } else {
          visit(mapper, parser, token, child, found);
        }
      }
    } else {
      parser.skipChildren();
    }
  }

  /**
   * Returns a number as the double the tree's exact decimal gives: both round correctly, but a
   * decimal has no negative zero, so {@code -0.0} reads as {@code 0.0} there and must here too.
   */
  private static JsonNode doubleNode(JsonParser parser) throws IOException {
    double value = parser.getDoubleValue();
    boolean negativeZero = value == 0 && Double.doubleToRawLongBits(value) != 0;
    return DoubleNode.valueOf(negativeZero ? parser.getDecimalValue().doubleValue() : value);
  }

  /** Returns a scalar's node as the tree would hold it; {@code null} for a container. */
  private static JsonNode scalar(JsonParser parser, JsonToken token) throws IOException {
    return switch (token) {
      case VALUE_STRING -> TextNode.valueOf(parser.getText());
      case VALUE_NUMBER_INT -> switch (parser.getNumberType()) {
        case INT -> IntNode.valueOf(parser.getIntValue());
        case LONG -> LongNode.valueOf(parser.getLongValue());
        default -> BigIntegerNode.valueOf(parser.getBigIntegerValue());
      };
      case VALUE_NUMBER_FLOAT -> DecimalNode.valueOf(parser.getDecimalValue());
      case VALUE_TRUE -> BooleanNode.TRUE;
      case VALUE_FALSE -> BooleanNode.FALSE;
      case VALUE_NULL -> NullNode.getInstance();
      default -> null;
    };
  }

  /** One step of the planned paths: by name in an object, by index in an array. */
  private static final class Step {
    /**
     * By name, names interned: the parser interns the names it reads, and a hash map compares
     * keys by identity before {@code equals}.
     */
    Map<String, Step> byName;
    Map<Integer, Step> byIndex;
    int slot = -1;
    /** Whether every column reading this field wants a double, so no exact decimal is needed. */
    boolean asDouble;
    /** The planned steps below this one, reached from its tree when it is planned itself. */
    List<Step> descendants = List.of();
    private final List<String> path;

    Step() {
      this(List.of());
    }

    private Step(List<String> path) {
      this.path = path;
    }

    Step child(String name, int index) {
      if (byName == null) {
        byName = new HashMap<>();
      }
      List<String> childPath = new ArrayList<>(path);
      childPath.add(name);
      Step child = byName.computeIfAbsent(name.intern(), n -> new Step(List.copyOf(childPath)));
      if (index >= 0) {
        if (byIndex == null) {
          byIndex = new HashMap<>();
        }
        byIndex.putIfAbsent(index, child);
      }
      return child;
    }

    /** Returns the step for a field name, or {@code null} if no planned path goes there. */
    Step child(String name) {
      return byName.get(name);
    }

    /** Fills in {@link #descendants} here and below; returns every planned step from here on. */
    List<Step> collectSlots() {
      List<Step> planned = new ArrayList<>();
      if (byName != null) {
        for (Step child : byName.values()) {
          planned.addAll(child.collectSlots());
        }
      }
      if (slot >= 0) {
        descendants = List.copyOf(planned);
        planned.add(this);
      }
      return planned;
    }

    /** Marks every slot at or below this step missing again. */
    void clear(JsonNode[] found) {
      if (slot >= 0) {
        found[slot] = MissingNode.getInstance();
        for (Step deeper : descendants) {
          found[deeper.slot] = MissingNode.getInstance();
        }
        return;
      }
      if (byName != null) {
        for (Step child : byName.values()) {
          child.clear(found);
        }
      }
    }

    JsonPointer pointerFrom(Step ancestor) {
      JsonPointer pointer = JsonPointer.empty();
      for (String name : path.subList(ancestor.path.size(), path.size())) {
        pointer = pointer.appendProperty(name);
      }
      return pointer;
    }
  }
}
