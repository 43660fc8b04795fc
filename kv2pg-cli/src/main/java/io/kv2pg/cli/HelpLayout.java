package io.kv2pg.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Help;
import picocli.CommandLine.Help.Ansi.Text;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.UsageMessageSpec;

/**
 * Lays out {@code --help} within the usage width without splitting a word or a path: picocli
 * breaks a line that is too long wherever its line-break rules allow (after a dot, a slash or a
 * hyphen, so {@code docs/CONFIG.md} became {@code docs/CONFIG.} and {@code md.}). Headers,
 * descriptions, footers and option descriptions are wrapped here instead, at spaces only, into
 * lines that picocli then has no reason to break. A description line that ends in the middle of a
 * sentence goes on with the next one: the sentence is wrapped as a whole.
 */
final class HelpLayout {
  /** The usage width: an 80-column terminal. */
  static final int WIDTH = 80;

  private HelpLayout() {}

  /** Sets the width and the renderers on the command and every subcommand. */
  static void apply(CommandLine line) {
    line.setUsageHelpWidth(WIDTH);
    apply0(line);
  }

  private static void apply0(CommandLine line) {
    line.getHelpSectionMap().put(UsageMessageSpec.SECTION_KEY_HEADER,
        help -> paragraphs(help.commandSpec().usageMessage().header(), width(help)));
    line.getHelpSectionMap().put(UsageMessageSpec.SECTION_KEY_DESCRIPTION,
        help -> paragraphs(help.commandSpec().usageMessage().description(), width(help)));
    line.getHelpSectionMap().put(UsageMessageSpec.SECTION_KEY_FOOTER,
        help -> paragraphs(help.commandSpec().usageMessage().footer(), width(help)));
    line.getHelpSectionMap().put(UsageMessageSpec.SECTION_KEY_OPTION_LIST, HelpLayout::optionList);
    line.getSubcommands().values().forEach(HelpLayout::apply0);
  }

  private static int width(Help help) {
    return help.commandSpec().usageMessage().width();
  }

  private static String optionList(Help help) {
    Help.Layout layout = help.createDefaultLayout();
    Help.Layout wrapping = new Help.Layout(layout.colorScheme(), layout.textTable(), layout.optionRenderer(),
        layout.parameterRenderer()) {
      @Override
      public void layout(ArgSpec argSpec, Text[][] rows) {
        super.layout(argSpec, rewrap(rows, textTable().columns(), colorScheme()));
      }
    };
    return help.optionList(wrapping, help.createDefaultOptionSort(), help.parameterLabelRenderer());
  }

  /** The option's rows with its description (the last column) wrapped at spaces to fit its column. */
  private static Text[][] rewrap(Text[][] rows, Help.Column[] columns, Help.ColorScheme scheme) {
    int last = columns.length - 1;
    StringBuilder description = new StringBuilder();
    for (Text[] row : rows) {
      String text = row[last] == null ? "" : row[last].plainString().strip();
      if (!text.isEmpty()) {
        description.append(description.length() == 0 ? "" : " ").append(text);
      }
    }
    // One column less than its width: picocli wraps a line that fills the column exactly.
    List<String> lines = wrap(description.toString(), columns[last].width - columns[last].indent - 1);
    Text[][] result = new Text[Math.max(1, lines.size())][];
    for (int i = 0; i < result.length; i++) {
      Text[] row = i == 0 ? rows[0].clone() : new Text[rows[0].length];
      if (i > 0) {
        Arrays.fill(row, scheme.text(""));
      }
      row[last] = scheme.text(lines.isEmpty() ? "" : lines.get(i));
      result[i] = row;
    }
    return result;
  }

  /** Lines of text, each paragraph wrapped at {@code width}, each line ending with a line break. */
  static String paragraphs(String[] lines, int width) {
    StringBuilder out = new StringBuilder();
    StringBuilder paragraph = new StringBuilder();
    for (String line : lines) {
      String text = String.format(line).strip();
      if (text.isEmpty()) {
        flush(out, paragraph, width);
        out.append(System.lineSeparator());
      } else {
        paragraph.append(paragraph.length() == 0 ? "" : " ").append(text);
        if (text.endsWith(".") || text.endsWith(":")) {
          flush(out, paragraph, width); // A sentence that ends its line keeps the line's end.
        }
      }
    }
    flush(out, paragraph, width);
    return out.toString();
  }

  private static void flush(StringBuilder out, StringBuilder paragraph, int width) {
    for (String line : wrap(paragraph.toString(), width - 1)) {
      out.append(line).append(System.lineSeparator());
    }
    paragraph.setLength(0);
  }

  /** Wraps at spaces only: a word longer than the width gets a line of its own, whole. */
  static List<String> wrap(String text, int width) {
    List<String> lines = new ArrayList<>();
    StringBuilder line = new StringBuilder();
    for (String word : text.strip().split("\\s+")) {
      if (word.isEmpty()) {
        continue;
      }
      if (line.length() > 0 && line.length() + 1 + word.length() > width) {
        lines.add(line.toString());
        line.setLength(0);
      }
      line.append(line.length() == 0 ? "" : " ").append(word);
    }
    if (line.length() > 0) {
      lines.add(line.toString());
    }
    return lines;
  }
}
