package io.kv2pg.internal.table;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kv2pg.Params;
import io.kv2pg.TestPostgres;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The rewriting of user statements for JDBC ({@code $n} to {@code ?}) and the binding of their
 * parameters. The rewritten text is checked as a string; where the order of the parameters
 * matters, the statement is also run in a real PostgreSQL, which is the judge of what it means.
 */
class PreparedSqlTest {
  private static Connection connection;

  @BeforeAll
  static void connect() throws SQLException {
    connection = DriverManager.getConnection(TestPostgres.newDatabase());
  }

  @AfterAll
  static void disconnect() throws SQLException {
    if (connection != null) {
      connection.close();
    }
  }

  // ------------------------------------------------------------------ rewriting

  @Test
  void dollarPlaceholdersBecomeQuestionMarks() {
    PreparedSql sql = PreparedSql.parse("insert into t (a, b) values ($1, $2)");
    assertThat(sql.jdbcSql()).isEqualTo("insert into t (a, b) values (?, ?)");
    assertThat(sql.parameterCount()).isEqualTo(2);
    assertThat(sql.original()).isEqualTo("insert into t (a, b) values ($1, $2)");
    assertThat(sql).hasToString("insert into t (a, b) values ($1, $2)");
  }

  @Test
  void placeholdersWithoutSpacesAndWithCasts() {
    PreparedSql sql = PreparedSql.parse("select * from t where a=$1::int and b=($2::text||'x')");
    assertThat(sql.jdbcSql()).isEqualTo("select * from t where a=?::int and b=(?::text||'x')");
    assertThat(sql.parameterCount()).isEqualTo(2);
  }

  @Test
  void jdbcQuestionMarksStayPlaceholders() {
    PreparedSql sql = PreparedSql.parse("insert into t (a, b) values (?, ?)");
    assertThat(sql.jdbcSql()).isEqualTo("insert into t (a, b) values (?, ?)");
    assertThat(sql.parameterCount()).isEqualTo(2);
  }

  @Test
  void jdbcStatementKeepsItsEscapedOperator() {
    PreparedSql sql = PreparedSql.parse("select ?::jsonb ?? 'a'");
    assertThat(sql.jdbcSql()).isEqualTo("select ?::jsonb ?? 'a'");
    assertThat(sql.parameterCount()).isEqualTo(1);
  }

  @Test
  void bareQuestionMarkInDollarStatementIsAnOperatorAndEscaped() {
    PreparedSql sql = PreparedSql.parse("select $1::jsonb ? 'a', $1::jsonb ?| array['a'], $1::jsonb ?& array['b']");
    assertThat(sql.jdbcSql())
        .isEqualTo("select ?::jsonb ?? 'a', ?::jsonb ??| array['a'], ?::jsonb ??& array['b']");
    assertThat(sql.parameterCount()).isEqualTo(1);
  }

  @Test
  void operatorBeforeTheFirstDollarPlaceholderIsAlsoEscaped() {
    PreparedSql sql = PreparedSql.parse("select '{\"a\":1}'::jsonb ? $1");
    assertThat(sql.jdbcSql()).isEqualTo("select '{\"a\":1}'::jsonb ?? ?");
    assertThat(sql.parameterCount()).isEqualTo(1);
  }

  @Test
  void noPlaceholdersAtAll() {
    PreparedSql sql = PreparedSql.parse("delete from t");
    assertThat(sql.jdbcSql()).isEqualTo("delete from t");
    assertThat(sql.parameterCount()).isZero();
  }

  @Test
  void dollarAfterAnIdentifierCharacterIsPartOfTheIdentifier() {
    // Postgres identifiers may contain '$' after the first character.
    PreparedSql sql = PreparedSql.parse("select col$1, x_$2 from t$3 where a = $1");
    assertThat(sql.jdbcSql()).isEqualTo("select col$1, x_$2 from t$3 where a = ?");
    assertThat(sql.parameterCount()).isEqualTo(1);
  }

  @Test
  void multiDigitPlaceholders() {
    PreparedSql sql = PreparedSql.parse("select $10, $1, $11");
    assertThat(sql.jdbcSql()).isEqualTo("select ?, ?, ?");
    assertThat(sql.parameterCount()).isEqualTo(11);
  }

  /** Statements whose quoted or commented parts hold text that looks like placeholders. */
  @ParameterizedTest
  @ValueSource(strings = {
      "select '$2 ? $3', $1",
      "select 'it''s $2 and ?', $1",
      "select '', '''', $1, ''''",
      "select E'\\' $2 ?', $1",
      "select e'\\\\', $1, e'?'",
      "select E'it''s \\' $2 ?' , $1",
      "select '\\', $1", // standard string: a lone backslash, the quote closes it
      "select 1 as \"col $2 ?\", $1",
      "select 1 as \"a \"\" $2 ?\", $1",
      "select $1 -- not $2 nor ?\n, 2",
      "select $1 -- a comment at the very end: $2 ?",
      "select /* $2 ? */ $1",
      "select /* outer /* inner $2 ? */ still inside $3 ? */ $1",
      "select $$ $2 ? ' \" -- /* $$, $1",
      "select $tag$ $2 ? $$ $inner$ $tag$, $1",
      "select $a_1$ $2 $a_1$, $1",
      "select U&'d\\0061t\\+000061 $2 ?', $1",
  })
  void placeholderLookalikesInQuotesCommentsAndDollarQuotesAreCopied(String statement) {
    PreparedSql sql = PreparedSql.parse(statement);
    String expected = statement.substring(0, statement.lastIndexOf("$1"))
        + "?" + statement.substring(statement.lastIndexOf("$1") + 2);
    assertThat(sql.jdbcSql()).isEqualTo(expected);
    assertThat(sql.parameterCount()).isEqualTo(1);
  }

  @Test
  void lookalikesAreCopiedInJdbcStyleStatementsToo() {
    PreparedSql sql = PreparedSql.parse("select '?', \"?\", $$?$$, /* ? */ ? -- ?\n");
    assertThat(sql.jdbcSql()).isEqualTo("select '?', \"?\", $$?$$, /* ? */ ? -- ?\n");
    assertThat(sql.parameterCount()).isEqualTo(1);
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "select 'abc",
      "select 'it''s",
      "select E'\\'",
      "select \"abc",
      "select /* abc",
      "select /* outer /* inner */ still open",
      "select $$ abc",
      "select $tag$ abc $tag",
      "select $tag$ abc $other$",
  })
  void unterminatedQuotesAndCommentsAreRejected(String statement) {
    assertThatThrownBy(() -> PreparedSql.parse(statement))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unterminated")
        .hasMessageContaining(statement);
  }

  @Test
  void dollarZeroIsRejected() {
    assertThatThrownBy(() -> PreparedSql.parse("select $0"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("$0");
  }

  @Test
  void crateReadmeStatementsWithTrailingSemicolons() {
    PreparedSql create = PreparedSql.parse(
        "create table if not exists test_table (key integer primary key, value integer not null);");
    assertThat(create.jdbcSql())
        .isEqualTo("create table if not exists test_table (key integer primary key, value integer not null);");
    assertThat(create.parameterCount()).isZero();

    PreparedSql insert = PreparedSql.parse(
        "insert into test_table (key, value) values ($1, $2) on conflict (key) do update set value = excluded.value;");
    assertThat(insert.jdbcSql()).isEqualTo(
        "insert into test_table (key, value) values (?, ?) on conflict (key) do update set value = excluded.value;");
    assertThat(insert.parameterCount()).isEqualTo(2);
  }

  // ------------------------------------------------------------------ binding, against Postgres

  @Test
  void valuesBindInPlaceholderOrder() throws SQLException {
    assertThat(row("select $1::text, $2::text", Params.of("first", "second")))
        .containsExactly("first", "second");
  }

  @Test
  void reorderedPlaceholdersTakeTheirOwnValues() throws SQLException {
    assertThat(row("select $2::text, $1::text, $3::int", Params.of("one", "two", 3)))
        .containsExactly("two", "one", 3);
  }

  @Test
  void repeatedPlaceholderTakesTheSameValue() throws SQLException {
    assertThat(row("select $1::int, $2::text, $1::int + 1", Params.of(7, "x")))
        .containsExactly(7, "x", 8);
  }

  @Test
  void multiDigitPlaceholdersBindTheRightValues() throws SQLException {
    assertThat(row("select $10::int, $1::int, $2::int + $9::int",
        Params.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)))
        .containsExactly(10, 1, 11);
  }

  @Test
  void castsApplyToTheBoundValue() throws SQLException {
    assertThat(row("select $1::int + 1, $2::numeric * 2", Params.of(41, "1.5")))
        .containsExactly(42, new java.math.BigDecimal("3.0"));
  }

  @Test
  void jdbcPlaceholdersBindInOrder() throws SQLException {
    assertThat(row("select ?::text, ?::int", Params.of("a", 2))).containsExactly("a", 2);
  }

  @Test
  void jsonbOperatorsWorkInDollarStatements() throws SQLException {
    assertThat(row("select $1::jsonb ? 'a', $1::jsonb ? 'z', $1::jsonb ?| array['z','b'], $1::jsonb ?& array['a','z']",
        Params.of("{\"a\": 1, \"b\": 2}")))
        .containsExactly(true, false, true, false);
  }

  @Test
  void lookalikesInLiteralsReachPostgresUnchanged() throws SQLException {
    assertThat(row("select 'it''s $2 ?', E'\\' $2 ?', $$ $2 ? $$, $t$?$t$, $1::text /* $2 ? */ -- $3 ?\n",
        Params.of("v")))
        .containsExactly("it's $2 ?", "' $2 ?", " $2 ? ", "?", "v");
  }

  @Test
  void byteArraysBindAsBytea() throws SQLException {
    byte[] bytes = {0, 1, (byte) 0xff, '\'', '\\', (byte) 0x80, '?', '$'};
    List<Object> row = row("select $1, pg_typeof($1)::text, length($1)", Params.of((Object) bytes));
    assertThat((byte[]) row.get(0)).containsExactly(bytes);
    assertThat(row.subList(1, 3)).containsExactly("bytea", bytes.length);
  }

  @Test
  void nullBindsAsSqlNull() throws SQLException {
    assertThat(row("select $1::int is null, coalesce($2::text, 'was null')", Params.of(null, null)))
        .containsExactly(true, "was null");
  }

  @Test
  void wrongNumberOfValuesIsRejected() throws SQLException {
    PreparedSql sql = PreparedSql.parse("select $1::int, $2::int, $1::int");
    try (PreparedStatement statement = connection.prepareStatement(sql.jdbcSql())) {
      assertThatThrownBy(() -> sql.bind(statement, Params.of(1)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("2 parameter(s)")
          .hasMessageContaining("returned 1");
      assertThatThrownBy(() -> sql.bind(statement, Params.of(1, 2, 3)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("returned 3");
      assertThatThrownBy(() -> sql.bind(statement, Params.of()))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("returned 0");
    }
    PreparedSql jdbc = PreparedSql.parse("select ?::int");
    try (PreparedStatement statement = connection.prepareStatement(jdbc.jdbcSql())) {
      assertThatThrownBy(() -> jdbc.bind(statement, Params.of(1, 2)))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void crateReadmeStatementsRunInPostgres() throws SQLException {
    String table = "crate_table";
    PreparedSql create = PreparedSql.parse(
        "create table if not exists " + table + " (key integer primary key, value integer not null);");
    PreparedSql insert = PreparedSql.parse("insert into " + table
        + " (key, value) values ($1, $2) on conflict (key) do update set value = excluded.value;");
    PreparedSql remove = PreparedSql.parse("delete from " + table + " where key = $1;");
    try (Statement statement = connection.createStatement()) {
      statement.execute(create.jdbcSql());
      statement.execute(create.jdbcSql()); // idempotent
    }
    for (Params params : List.of(Params.of(1, 10), Params.of(2, 20), Params.of(1, 11), Params.of(3, 30))) {
      try (PreparedStatement statement = connection.prepareStatement(insert.jdbcSql())) {
        insert.bind(statement, params);
        assertThat(statement.executeUpdate()).isEqualTo(1);
      }
    }
    try (PreparedStatement statement = connection.prepareStatement(remove.jdbcSql())) {
      remove.bind(statement, Params.of(2));
      assertThat(statement.executeUpdate()).isEqualTo(1);
    }
    assertThat(rows("select key, value from " + table + " order by key"))
        .containsExactly(List.of(1, 11), List.of(3, 30));
  }

  private static List<Object> row(String statement, Params params) throws SQLException {
    PreparedSql sql = PreparedSql.parse(statement);
    try (PreparedStatement prepared = connection.prepareStatement(sql.jdbcSql())) {
      sql.bind(prepared, params);
      try (ResultSet rows = prepared.executeQuery()) {
        assertThat(rows.next()).as("a row from %s", statement).isTrue();
        List<Object> row = new ArrayList<>();
        for (int i = 1; i <= rows.getMetaData().getColumnCount(); i++) {
          row.add(rows.getObject(i));
        }
        assertThat(rows.next()).isFalse();
        return row;
      }
    }
  }

  private static List<List<Object>> rows(String query) throws SQLException {
    List<List<Object>> result = new ArrayList<>();
    try (Statement statement = connection.createStatement(); ResultSet rows = statement.executeQuery(query)) {
      while (rows.next()) {
        List<Object> row = new ArrayList<>();
        for (int i = 1; i <= rows.getMetaData().getColumnCount(); i++) {
          row.add(rows.getObject(i));
        }
        result.add(row);
      }
    }
    return result;
  }
}
