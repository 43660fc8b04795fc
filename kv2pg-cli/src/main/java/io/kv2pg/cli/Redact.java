package io.kv2pg.cli;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Keeps passwords out of everything the CLI prints. */
final class Redact {
  private static final Pattern PASSWORD = Pattern.compile("(?i)(password=)[^&;\\s]*");
  private static final Set<String> SECRETS = ConcurrentHashMap.newKeySet();

  private Redact() {}

  /** Remembers a password, so that {@link #text(String)} masks it wherever it appears. */
  static String secret(String password) {
    if (password != null && !password.isEmpty()) {
      SECRETS.add(password);
    }
    return password;
  }

  /** Returns a URL (or any text) with password parameters and known passwords replaced by ***. */
  static String text(String text) {
    if (text == null) {
      return null;
    }
    String masked = PASSWORD.matcher(text).replaceAll("$1***");
    for (String secret : SECRETS) {
      masked = masked.replace(secret, "***");
    }
    return masked;
  }
}
