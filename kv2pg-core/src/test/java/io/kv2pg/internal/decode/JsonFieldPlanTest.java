package io.kv2pg.internal.decode;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.databind.JsonNode;
import io.kv2pg.internal.decode.FieldDecoders.JsonKind;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * The streaming field extraction must give, for every planned pointer, exactly the node that the
 * whole tree gives, on any document: nesting, arrays, duplicate names, paths through scalars,
 * numbers in every exact form.
 */
class JsonFieldPlanTest {
  private static final String[] NAMES = {"a", "b", "c", "0", "1", "x.y", "", "é"};

  @Property(tries = 2000)
  void streamingExtractionEqualsTheTree(@ForAll long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    String document = value(random, 0);
    List<String> paths = new ArrayList<>();
    int count = 1 + random.nextInt(6);
    for (int i = 0; i < count; i++) {
      StringBuilder path = new StringBuilder();
      int depth = 1 + random.nextInt(3);
      for (int d = 0; d < depth; d++) {
        path.append('/').append(NAMES[random.nextInt(NAMES.length)].replace("~", "~0").replace("/", "~1"));
      }
      paths.add(path.toString());
    }
    List<FieldDecoder> decoders = paths.stream()
        .map(path -> FieldDecoders.jsonField(path, JsonKind.JSONB)).toList();
    JsonFieldPlan plan = JsonFieldPlan.of(decoders);
    byte[] bytes = document.getBytes(StandardCharsets.UTF_8);

    FieldInput streamed = new FieldInput(plan).reset(bytes, 0);
    FieldInput tree = new FieldInput().reset(bytes, 0);
    for (String path : paths) {
      JsonPointer pointer = JsonPointer.compile(path);
      JsonNode expected = tree.json().at(pointer);
      JsonNode actual = streamed.json(pointer);
      assertThat(actual).as("%s in %s", path, document).isEqualTo(expected);
      // equals() on numbers ignores the node class and BigDecimal scale is what it compares,
      // so also compare what Postgres would be sent.
      assertThat(actual.toString()).as("%s in %s", path, document).isEqualTo(expected.toString());
      assertThat(actual.getClass()).as("%s in %s", path, document).isEqualTo(expected.getClass());
    }
  }

  @Property(tries = 2000)
  void everyKindOfColumnDecodesAlikeThroughThePlanAndTheTree(@ForAll long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    String document = value(random, 0);
    JsonKind[] kinds = JsonKind.values();
    List<FieldDecoder> decoders = new ArrayList<>();
    int count = 1 + random.nextInt(6);
    for (int i = 0; i < count; i++) {
      String path = NAMES[random.nextInt(3)] + (random.nextBoolean() ? "" : "." + NAMES[random.nextInt(5)]);
      // Often only double precision columns read a field: the plan then parses it straight to double.
      JsonKind kind = random.nextBoolean() ? JsonKind.DOUBLE : kinds[random.nextInt(kinds.length)];
      decoders.add(FieldDecoders.jsonField(path, kind));
    }
    byte[] bytes = document.getBytes(StandardCharsets.UTF_8);
    FieldInput streamed = new FieldInput(JsonFieldPlan.of(decoders)).reset(bytes, 0);
    FieldInput tree = new FieldInput().reset(bytes, 0);
    for (FieldDecoder decoder : decoders) {
      assertThat(outcome(decoder, streamed)).as("%s in %s", decoder.describe(), document)
          .isEqualTo(outcome(decoder, tree));
    }
  }

  /** The decoded value's class and text, or the error's message. */
  private static String outcome(FieldDecoder decoder, FieldInput input) {
    try {
      Object value = decoder.decode(input);
      return value == null ? "null" : value.getClass().getSimpleName() + ":" + value;
    } catch (IllegalArgumentException e) {
      return "error:" + e.getMessage();
    }
  }

  @Example
  void duplicateNamesKeepTheLastValueEvenWhenItLacksTheDeeperField() {
    JsonFieldPlan plan = JsonFieldPlan.of(List.of(FieldDecoders.jsonField("a.b", JsonKind.INTEGER),
        FieldDecoders.jsonField("c", JsonKind.INTEGER)));
    FieldInput input = new FieldInput(plan)
        .reset("{\"a\":{\"b\":1},\"c\":2,\"a\":{\"x\":3},\"c\":4}".getBytes(StandardCharsets.UTF_8), 0);
    assertThat(input.json(JsonPointer.compile("/a/b")).isMissingNode()).isTrue();
    assertThat(input.json(JsonPointer.compile("/c")).intValue()).isEqualTo(4);
  }

  @Example
  void negativeZeroReadsAsTheTreeReadsIt() {
    FieldDecoder price = FieldDecoders.jsonField("p", JsonKind.DOUBLE);
    for (String number : List.of("-0.0", "-0", "-0e5", "-1e-400", "0.0", "-2.5")) {
      byte[] bytes = ("{\"p\":" + number + "}").getBytes(StandardCharsets.UTF_8);
      assertThat(outcome(price, new FieldInput(JsonFieldPlan.of(List.of(price))).reset(bytes, 0)))
          .as(number).isEqualTo(outcome(price, new FieldInput().reset(bytes, 0)));
    }
  }

  @Example
  void malformedDocumentsFailAsWithTheTreeEvenInFieldsNoColumnReads() {
    JsonFieldPlan plan = JsonFieldPlan.of(List.of(FieldDecoders.jsonField("a", JsonKind.INTEGER),
        FieldDecoders.jsonField("/c/1", JsonKind.INTEGER)));
    for (String bad : List.of("", "{\"a\":1,\"b\":[1,}", "{\"a\":1,\"b\":tru}", "{\"a\":1,\"b\":\"x}",
        "{\"a\":1,\"c\":[1,2", "{\"a\":1,\"c\":[1,2,")) {
      FieldInput input = new FieldInput(plan).reset(bad.getBytes(StandardCharsets.UTF_8), 0);
      assertThatThrownBy(() -> input.json(JsonPointer.compile("/a")))
          .as(bad).isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("not valid JSON");
    }
  }

  @Example
  void noPlanWhenAColumnReadsTheWholeDocumentOrNoField() {
    assertThat(JsonFieldPlan.of(List.of(FieldDecoders.jsonField("a", JsonKind.TEXT),
        FieldDecoders.jsonDocument()))).isNull();
    assertThat(JsonFieldPlan.of(List.of(FieldDecoders.integer(8, 0, false, true)))).isNull();
  }

  private static String value(SplittableRandom random, int depth) {
    int kind = random.nextInt(depth >= 3 ? 6 : 9);
    return switch (kind) {
      case 0 -> "null";
      case 1 -> random.nextBoolean() ? "true" : "false";
      case 2 -> string(random);
      case 3 -> integer(random);
      case 4 -> decimal(random);
      case 5 -> string(random);
      case 6, 7 -> {
        StringBuilder object = new StringBuilder("{");
        int fields = random.nextInt(5);
        for (int i = 0; i < fields; i++) {
          object.append(i == 0 ? "" : ",").append(quote(NAMES[random.nextInt(NAMES.length)]))
              .append(':').append(value(random, depth + 1));
        }
        yield object.append('}').toString();
      }
      default -> {
        StringBuilder array = new StringBuilder("[");
        int items = random.nextInt(4);
        for (int i = 0; i < items; i++) {
          array.append(i == 0 ? "" : ",").append(value(random, depth + 1));
        }
        yield array.append(']').toString();
      }
    };
  }

  private static String integer(SplittableRandom random) {
    return switch (random.nextInt(4)) {
      case 0 -> Integer.toString(random.nextInt(-1000, 1000));
      case 1 -> Long.toString(random.nextLong());
      case 2 -> "-0";
      default -> "123456789012345678901234567890";
    };
  }

  private static String decimal(SplittableRandom random) {
    String[] forms = {"1.50", "-0.0", "0.0", "1e3", "1E+3", "2.5e-3", "12345678901234567890.123456789",
        "0.1", "-7.000", "-0e5", "-1e-400", "1e400"};
    return forms[random.nextInt(forms.length)];
  }

  private static String string(SplittableRandom random) {
    String[] forms = {"\"\"", "\"plain\"", "\"tab\\t quote\\\" \\u00e9 \\ud83d\\ude00\"", "\"ü €\""};
    return forms[random.nextInt(forms.length)];
  }

  private static String quote(String name) {
    return "\"" + name + "\"";
  }
}
