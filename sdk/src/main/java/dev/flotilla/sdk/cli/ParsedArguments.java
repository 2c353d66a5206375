package dev.flotilla.sdk.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A command line split into positional words and {@code --options}. Options may appear anywhere, as
 * {@code --name value} or {@code --name=value}; {@code --} ends them.
 */
final class ParsedArguments {
  private final List<String> positionals;
  private final Map<String, List<String>> values;

  private ParsedArguments(List<String> positionals, Map<String, List<String>> values) {
    this.positionals = positionals;
    this.values = values;
  }

  /**
   * @param valueOptions names (without {@code --}) of options that take a value
   * @param flagOptions names of options that take none
   */
  static ParsedArguments parse(String[] args, Set<String> valueOptions, Set<String> flagOptions)
      throws UsageException {
    List<String> positionals = new ArrayList<>();
    Map<String, List<String>> values = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (arg.equals("--")) {
        positionals.addAll(List.of(args).subList(i + 1, args.length));
        break;
      }
      if (!arg.startsWith("--") || arg.length() == 2) {
        positionals.add(arg);
        continue;
      }
      int equals = arg.indexOf('=');
      String name = arg.substring(2, equals < 0 ? arg.length() : equals);
      String value;
      if (flagOptions.contains(name)) {
        if (equals >= 0) {
          throw new UsageException("--" + name + " takes no value");
        }
        value = "";
      } else if (valueOptions.contains(name)) {
        if (equals >= 0) {
          value = arg.substring(equals + 1);
        } else if (i + 1 < args.length) {
          value = args[++i];
        } else {
          throw new UsageException("--" + name + " needs a value");
        }
      } else {
        throw new UsageException("unknown option --" + name);
      }
      values.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
    }
    return new ParsedArguments(List.copyOf(positionals), values);
  }

  List<String> positionals() {
    return positionals;
  }

  /** Names of the options that were given. */
  Set<String> given() {
    return values.keySet();
  }

  boolean has(String name) {
    return values.containsKey(name);
  }

  /** The option's value, or null when absent; given twice is a usage error. */
  String single(String name) throws UsageException {
    List<String> given = values.get(name);
    if (given == null) {
      return null;
    }
    if (given.size() > 1) {
      throw new UsageException("--" + name + " given more than once");
    }
    return given.get(0);
  }

  List<String> all(String name) {
    return values.getOrDefault(name, List.of());
  }

  Integer intValue(String name) throws UsageException {
    String text = single(name);
    try {
      return text == null ? null : Integer.valueOf(text);
    } catch (NumberFormatException e) {
      throw new UsageException("--" + name + " needs an integer, got '" + text + "'");
    }
  }

  Long longValue(String name) throws UsageException {
    String text = single(name);
    try {
      return text == null ? null : Long.valueOf(text);
    } catch (NumberFormatException e) {
      throw new UsageException("--" + name + " needs an integer, got '" + text + "'");
    }
  }

  Float floatValue(String name) throws UsageException {
    String text = single(name);
    try {
      return text == null ? null : Float.valueOf(text);
    } catch (NumberFormatException e) {
      throw new UsageException("--" + name + " needs a number, got '" + text + "'");
    }
  }
}
