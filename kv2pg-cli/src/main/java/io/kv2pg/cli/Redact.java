package io.kv2pg.cli;

import io.kv2pg.internal.postgres.PostgresConnector;

/**
 * Keeps passwords out of everything the CLI prints. Masks by structure only: a password kept
 * apart from the URL is never printed, and a URL's secret parameters are masked whole by {@link
 * PostgresConnector#mask}, the one owner of that rule. Never search-and-replace a known
 * password: a password such as {@code 1} would garble every message and give itself away.
 */
final class Redact {
  private Redact() {}

  /** Returns the text with the secret parameters of a JDBC URL in it masked. */
  static String text(String text) {
    return text == null ? null : PostgresConnector.mask(text);
  }
}
