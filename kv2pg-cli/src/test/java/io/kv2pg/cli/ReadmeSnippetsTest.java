package io.kv2pg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every {@code ```java} snippet of the README compiles against kv2pg-core and rocksdbjni (this
 * module's test classpath).
 *
 * <p>A snippet that declares a class is compiled as it is, in a file named after its public class:
 * it must be a complete program, imports included (the Quick start). Any other snippet is a
 * fragment and is compiled as the body of a method {@code void snippet(RocksDB db,
 * ColumnFamilyHandle ordersCf, Replication replication, String jdbcUrl) throws Exception}, the
 * names the README says the fragments use, in a class that imports {@code io.kv2pg.*}, {@code
 * org.rocksdb.*}, {@code java.nio.*}, {@code java.nio.file.*}, {@code java.time.*}, {@code
 * java.util.*} and, statically, {@code StandardCharsets.UTF_8}.
 */
class ReadmeSnippetsTest {
  static final Path README = Path.of("..", "README.md");
  private static final Pattern SNIPPET = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL);
  private static final Pattern PUBLIC_CLASS = Pattern.compile("public\\s+(?:final\\s+)?class\\s+(\\w+)");

  @TempDir Path dir;

  static List<String> snippets() throws Exception {
    List<String> snippets = new ArrayList<>();
    Matcher matcher = SNIPPET.matcher(Files.readString(README));
    while (matcher.find()) {
      snippets.add(matcher.group(1));
    }
    return snippets;
  }

  static String wrapped(int index, String fragment) {
    return """
        import io.kv2pg.*;
        import java.nio.*;
        import java.nio.file.*;
        import java.time.*;
        import java.util.*;
        import org.rocksdb.*;
        import static java.nio.charset.StandardCharsets.UTF_8;

        class Snippet%d {
          void snippet(RocksDB db, ColumnFamilyHandle ordersCf, Replication replication, String jdbcUrl)
              throws Exception {
        %s
          }
        }
        """.formatted(index, fragment);
  }

  @Test
  void everyJavaSnippetOfTheReadmeCompiles() throws Exception {
    List<String> snippets = snippets();
    assertThat(snippets).as("java snippets in " + README).hasSizeGreaterThanOrEqualTo(5);
    assertThat(snippets.get(0)).as("the Quick start is a complete program").contains("import org.rocksdb.")
        .containsPattern(PUBLIC_CLASS.pattern());

    List<Path> sources = new ArrayList<>();
    for (int i = 0; i < snippets.size(); i++) {
      String snippet = snippets.get(i);
      Matcher name = PUBLIC_CLASS.matcher(snippet);
      Path source = name.find()
          ? Files.writeString(Files.createDirectories(dir.resolve("program" + i)).resolve(name.group(1) + ".java"),
              snippet)
          : Files.writeString(dir.resolve("Snippet" + i + ".java"), wrapped(i, snippet));
      sources.add(source);
    }
    JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
    assertThat(compiler).as("a JDK's compiler").isNotNull();
    DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
    StringWriter output = new StringWriter();
    Path classes = Files.createDirectories(dir.resolve("classes"));
    try (StandardJavaFileManager files = compiler.getStandardFileManager(diagnostics, Locale.ROOT, null)) {
      boolean compiled = compiler.getTask(output, files, diagnostics,
          List.of("-classpath", System.getProperty("java.class.path"), "-d", classes.toString(), "-Xlint:none"),
          null, files.getJavaFileObjectsFromPaths(sources)).call();
      StringBuilder report = new StringBuilder(output.toString());
      diagnostics.getDiagnostics().forEach(diagnostic -> report.append(diagnostic.getSource() == null ? ""
          : Path.of(diagnostic.getSource().toUri()).getFileName()).append(':').append(diagnostic.getLineNumber())
          .append(": ").append(diagnostic.getMessage(Locale.ROOT)).append('\n'));
      assertThat(compiled).as(report.toString()).isTrue();
    }
  }
}
