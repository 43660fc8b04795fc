package io.kv2pg.cli;

import java.nio.file.Path;
import java.util.List;

/**
 * Configuration problems, each naming the file, the line and the field. Exit code 2. The message
 * is the one problem, or a header counting them; {@link #problems()} has every one.
 */
final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final List<String> problems;

  ConfigException(String message) {
    this(message, List.of(message));
  }

  private ConfigException(String message, List<String> problems) {
    super(message);
    this.problems = List.copyOf(problems);
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

  /** The problems found in one file: the problem itself when there is one. */
  static ConfigException of(Path file, List<ConfigException> found) {
    if (found.size() == 1) {
      return found.get(0);
    }
    List<String> problems = found.stream().flatMap(problem -> problem.problems().stream()).toList();
    return new ConfigException("config " + file + " has " + problems.size() + " problems:", problems);
  }

  /** Every problem, one line each. */
  List<String> problems() {
    return problems;
  }
}
