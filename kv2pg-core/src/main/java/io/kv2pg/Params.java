package io.kv2pg;

import java.util.Arrays;

/**
 * The values bound to one SQL statement's placeholders, in placeholder order ({@code $1} or the
 * first {@code ?} is value 0).
 *
 * <p>Values are bound with {@link java.sql.PreparedStatement#setObject(int, Object)}, except
 * {@code byte[]}, which binds as {@code bytea}, and {@code null}, which binds as an untyped SQL
 * {@code NULL} (add a cast such as {@code $2::int} when Postgres cannot infer the type).
 *
 * <p>Immutable and thread-safe as long as the values themselves are not mutated; {@code byte[]}
 * values are copied on the way in.
 */
public final class Params {
  private static final Params EMPTY = new Params(new Object[0]);

  private final Object[] values;

  private Params(Object[] values) {
    this.values = values;
  }

  /**
   * Returns the given values as parameters.
   *
   * @param values the values, in placeholder order; elements may be {@code null}
   * @throws NullPointerException if the array itself is {@code null}
   */
  public static Params of(Object... values) {
    if (values == null) {
      throw new NullPointerException("values must not be null (use Params.of() for no values)");
    }
    if (values.length == 0) {
      return EMPTY;
    }
    Object[] copy = values.clone();
    for (int i = 0; i < copy.length; i++) {
      if (copy[i] instanceof byte[] bytes) {
        copy[i] = bytes.clone();
      }
    }
    return new Params(copy);
  }

  /** Returns how many values there are. */
  public int size() {
    return values.length;
  }

  /**
   * Returns value {@code index} (0-based); a {@code byte[]} is returned as the stored array, which
   * the caller must not modify.
   *
   * @throws IndexOutOfBoundsException if {@code index} is not below {@link #size()}
   */
  public Object get(int index) {
    return values[index];
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Params that && Arrays.deepEquals(values, that.values);
  }

  @Override
  public int hashCode() {
    return Arrays.deepHashCode(values);
  }

  @Override
  public String toString() {
    return "Params" + Arrays.deepToString(values);
  }
}
