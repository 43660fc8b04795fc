package io.kv2pg.internal.table;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.util.HexFormat;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.CharRange;

/**
 * The byte-level COPY encoder must write what COPY's text format defines for each value: the
 * same bytes as escaping the value's text form and encoding it as UTF-8. (The round trip through
 * a real server is covered by DeclaredModelTest and DecodersTest, whose rows all go through COPY.)
 */
class CopyRowEncoderTest {

  @Property(tries = 3000)
  void textIsEscapedAndEncodedAsUtf8(@ForAll String text) throws SQLException {
    assertThat(encode(text)).isEqualTo(expected(text));
  }

  @Property(tries = 1000)
  void textOfAnyCharactersIncludingSurrogates(
      @ForAll @CharRange(from = '\u0000', to = '\uffff') String text) throws SQLException {
    assertThat(encode(text)).isEqualTo(expected(text));
  }

  @Property(tries = 3000)
  void integersAsDecimalDigits(@ForAll long value, @ForAll int small) throws SQLException {
    assertThat(encode(value)).isEqualTo(expected(Long.toString(value)));
    assertThat(encode(small)).isEqualTo(expected(Integer.toString(small)));
  }

  @Property(tries = 3000)
  void doublesAsTextThatParsesBackToTheSameValue(@ForAll double value) throws SQLException {
    String text = new String(encode(value), StandardCharsets.US_ASCII);
    assertThat(Double.compare(Double.parseDouble(text), value)).as(text).isZero();
    assertThat(text).as("Postgres float8 input syntax").matches("-?(\\d+(\\.\\d+)?(E-?\\d+)?|Infinity|NaN)");
  }

  @Property(tries = 1000)
  void byteaAsEscapedHex(@ForAll byte[] bytes) throws SQLException {
    assertThat(encode(bytes)).isEqualTo(expected("\\x" + HexFormat.of().formatHex(bytes)));
  }

  @Example
  void aDiscardedRowLeavesNothingOfItsFields() throws SQLException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    CopyRowEncoder row = new CopyRowEncoder(out::write);
    row.field(1L);
    row.endRow();
    row.field(2L);
    row.field("half a row");
    row.discardRow();
    row.field(3L);
    row.field("x");
    row.endRow();
    row.flush();
    assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo("1\n3\tx\n");
  }

  @Example
  void edgeValuesAndRows() throws SQLException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    CopyRowEncoder row = new CopyRowEncoder(out::write);
    row.field(Long.MIN_VALUE);
    row.field(null);
    row.field(0L);
    row.field("\ud83d"); // a lone surrogate, replaced as String.getBytes does
    row.field(true);
    row.endRow();
    row.field("a\\b\tc\nd\re");
    row.endRow();
    row.flush();
    assertThat(out.toString(StandardCharsets.UTF_8))
        .isEqualTo("-9223372036854775808\t\\N\t0\t?\tt\na\\\\b\\tc\\nd\\re\n");
  }

  @Example
  void largeRowsGrowTheBufferAndFlushInPieces() throws SQLException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int[] writes = {0};
    CopyRowEncoder row = new CopyRowEncoder((bytes, offset, length) -> {
      writes[0]++;
      out.write(bytes, offset, length);
    });
    String big = "é".repeat(100_000);
    StringBuilder want = new StringBuilder();
    for (int i = 0; i < 5; i++) {
      row.field(big);
      row.field((long) i);
      row.endRow();
      want.append(big).append('\t').append(i).append('\n');
    }
    row.flush();
    assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo(want.toString());
    assertThat(writes[0]).isEqualTo(5);
  }

  private static byte[] encode(Object value) throws SQLException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    CopyRowEncoder row = new CopyRowEncoder(out::write);
    row.field(value);
    row.flush();
    return out.toByteArray();
  }

  private static byte[] expected(String text) {
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        .getBytes(StandardCharsets.UTF_8);
  }
}
