package io.kv2pg.cli;

import java.nio.file.Path;

/** A configuration problem, naming the file, the line and the field. Exit code 2. */
final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  ConfigException(String message) {
    super(message);
  }

  /** "FILE, line N, field F: problem". */
  static ConfigException at(Path file, int line, String field, String problem) {
    StringBuilder text = new StringBuilder("config ").append(file);
    if (line > 0) {
      text.append(", line ").append(line);
    }
    if (field != null && !field.isEmpty()) {
      text.append(", field ").append(field);
    }
    return new ConfigException(text.append(": ").append(problem).toString());
  }
}
