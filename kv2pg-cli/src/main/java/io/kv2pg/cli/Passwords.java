package io.kv2pg.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;

/** Reads a password given on the command line by where it is, never by value. */
final class Passwords {
  private Passwords() {}

  /** From {@code --password-env}, else {@code --password-file}, else {@code PGPASSWORD}, else none. */
  static String read(String variable, Path file, Function<String, String> env) {
    if (variable != null && file != null) {
      throw new CliException(Main.USAGE, "give either --password-env or --password-file, not both");
    }
    if (variable != null) {
      String value = env.apply(variable);
      if (value == null) {
        throw new CliException(Main.USAGE, "--password-env: the environment variable " + variable + " is not set");
      }
      return value;
    }
    if (file != null) {
      try {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        if (lines.isEmpty() || lines.get(0).isEmpty()) {
          throw new CliException(Main.USAGE, "--password-file: the file " + file + " is empty");
        }
        return lines.get(0);
      } catch (NoSuchFileException e) {
        throw new CliException(Main.USAGE, "--password-file: the file " + file + " does not exist");
      } catch (IOException e) {
        throw new CliException(Main.USAGE, "--password-file: cannot read " + file + ": " + e.getMessage());
      }
    }
    return env.apply("PGPASSWORD");
  }
}
