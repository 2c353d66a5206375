package dev.flotilla.worker.chat;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;
import jinjava.javax.el.MethodNotFoundException;

/**
 * The methods chat templates call on values, with Python's meaning: {@code str} methods ({@code
 * strip}, {@code startswith}, {@code split}, {@code upper}, ...) on strings, the read-only {@code
 * dict} methods on maps and {@code index}/{@code count} on lists.
 *
 * <p>Every other method call on these values is refused, Java's included: templates come from model
 * files, and a Java method such as {@code String.repeat} could exhaust memory where Python's
 * sandbox (Hugging Face renders in Jinja2's {@code ImmutableSandboxedEnvironment}) allows nothing
 * of the kind. Mutating methods ({@code append}, {@code update}) are refused as that sandbox
 * refuses them.
 */
final class PythonMethods extends ELResolver {
  private static final Set<String> MAP_METHODS = Set.of("items", "keys", "values", "get");
  private static final Set<String> LIST_METHODS = Set.of("index", "count");

  @Override
  public Object invoke(
      ELContext context, Object base, Object method, Class<?>[] types, Object[] params) {
    if (method == null) {
      return null;
    }
    String name = method.toString();
    Object[] args = params == null ? new Object[0] : params;
    if (base instanceof String s) {
      context.setPropertyResolved(true);
      return string(s, name, args);
    }
    if (base instanceof Map<?, ?> && !MAP_METHODS.contains(name)) {
      throw refused("dict", name);
    }
    if (base instanceof List<?> list && !LIST_METHODS.contains(name)) {
      throw refused("list", name);
    }
    if (base instanceof List<?> list && args.length == 1) {
      context.setPropertyResolved(true);
      if (name.equals("count")) {
        return (long) list.stream().filter(x -> equal(x, args[0])).count();
      }
      for (int i = 0; i < list.size(); i++) {
        if (equal(list.get(i), args[0])) {
          return (long) i;
        }
      }
      throw new MethodNotFoundException("list.index(x): x not in list");
    }
    return null;
  }

  private static Object string(String s, String name, Object[] a) {
    return switch (name) {
      case "strip" -> rstrip(lstrip(s, chars(a)), chars(a));
      case "lstrip" -> lstrip(s, chars(a));
      case "rstrip" -> rstrip(s, chars(a));
      case "upper" -> s.toUpperCase(Locale.ROOT);
      case "lower" -> s.toLowerCase(Locale.ROOT);
      case "capitalize" ->
          s.isEmpty()
              ? s
              : s.substring(0, 1).toUpperCase(Locale.ROOT)
                  + s.substring(1).toLowerCase(Locale.ROOT);
      case "title" -> title(s);
      case "startswith" -> affixes(a).stream().anyMatch(s::startsWith);
      case "endswith" -> affixes(a).stream().anyMatch(s::endsWith);
      case "split" -> split(s, a.length > 0 ? (String) a[0] : null, maxsplit(a));
      case "rsplit" -> rsplit(s, a.length > 0 ? (String) a[0] : null, maxsplit(a));
      case "splitlines" -> splitlines(s);
      case "replace" -> replace(s, arg(a, 0), arg(a, 1), a.length > 2 ? toInt(a[2]) : -1);
      case "find" -> (long) s.indexOf(arg(a, 0));
      case "rfind" -> (long) s.lastIndexOf(arg(a, 0));
      case "count" -> count(s, arg(a, 0));
      case "join" -> join(s, a.length > 0 ? a[0] : null);
      case "isspace" -> !s.isEmpty() && s.chars().allMatch(PythonMethods::isSpace);
      case "isdigit" -> !s.isEmpty() && s.chars().allMatch(Character::isDigit);
      case "isalpha" -> !s.isEmpty() && s.chars().allMatch(Character::isLetter);
      case "isalnum" -> !s.isEmpty() && s.chars().allMatch(Character::isLetterOrDigit);
      case "isupper" ->
          s.chars().anyMatch(Character::isLetter) && s.equals(s.toUpperCase(Locale.ROOT));
      case "islower" ->
          s.chars().anyMatch(Character::isLetter) && s.equals(s.toLowerCase(Locale.ROOT));
      default -> throw refused("str", name);
    };
  }

  private static MethodNotFoundException refused(String type, String name) {
    return new MethodNotFoundException(
        "'" + type + "' object has no method '" + name + "' in chat templates");
  }

  private static boolean equal(Object a, Object b) {
    if (a instanceof Number x && b instanceof Number y) {
      return x.doubleValue() == y.doubleValue();
    }
    return a == null ? b == null : a.equals(b);
  }

  private static String arg(Object[] a, int i) {
    if (a.length <= i || a[i] == null) {
      throw new MethodNotFoundException("missing string argument " + (i + 1));
    }
    return a[i].toString();
  }

  private static int toInt(Object o) {
    return o instanceof Number n ? n.intValue() : Integer.parseInt(o.toString());
  }

  private static String chars(Object[] a) {
    return a.length > 0 && a[0] != null ? a[0].toString() : null;
  }

  private static int maxsplit(Object[] a) {
    return a.length > 1 && a[1] != null ? toInt(a[1]) : -1;
  }

  private static List<String> affixes(Object[] a) {
    if (a.length == 0 || a[0] == null) {
      throw new MethodNotFoundException("startswith/endswith take a string or a tuple of strings");
    }
    if (a[0] instanceof Collection<?> c) {
      return c.stream().map(String::valueOf).toList();
    }
    return List.of(a[0].toString());
  }

  /** Python's str.isspace for one code unit. */
  private static boolean isSpace(int c) {
    return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == 0x85;
  }

  private static boolean strips(int c, String chars) {
    return chars == null ? isSpace(c) : chars.indexOf(c) >= 0;
  }

  private static String lstrip(String s, String chars) {
    int i = 0;
    while (i < s.length() && strips(s.charAt(i), chars)) {
      i++;
    }
    return s.substring(i);
  }

  private static String rstrip(String s, String chars) {
    int i = s.length();
    while (i > 0 && strips(s.charAt(i - 1), chars)) {
      i--;
    }
    return s.substring(0, i);
  }

  private static String title(String s) {
    StringBuilder out = new StringBuilder(s.length());
    boolean previousCased = false;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      out.append(previousCased ? Character.toLowerCase(c) : Character.toUpperCase(c));
      previousCased = Character.isLetter(c);
    }
    return out.toString();
  }

  static List<String> split(String s, String sep, int maxsplit) {
    List<String> out = new ArrayList<>();
    if (sep == null) {
      int i = 0;
      while (true) {
        while (i < s.length() && isSpace(s.charAt(i))) {
          i++;
        }
        if (i == s.length()) {
          return out;
        }
        if (maxsplit >= 0 && out.size() == maxsplit) {
          out.add(rstrip(s.substring(i), null));
          return out;
        }
        int j = i;
        while (j < s.length() && !isSpace(s.charAt(j))) {
          j++;
        }
        out.add(s.substring(i, j));
        i = j;
      }
    }
    if (sep.isEmpty()) {
      throw new MethodNotFoundException("split: empty separator");
    }
    int from = 0;
    while (maxsplit < 0 || out.size() < maxsplit) {
      int at = s.indexOf(sep, from);
      if (at < 0) {
        break;
      }
      out.add(s.substring(from, at));
      from = at + sep.length();
    }
    out.add(s.substring(from));
    return out;
  }

  static List<String> rsplit(String s, String sep, int maxsplit) {
    if (maxsplit < 0) {
      return split(s, sep, -1);
    }
    if (sep == null) {
      // Whitespace rsplit with a limit: split fully, then rejoin the leftmost pieces as Python
      // keeps them (their original text).
      String rest = rstrip(s, null);
      List<String> out = new ArrayList<>();
      while (out.size() < maxsplit) {
        int end = rest.length();
        int start = end;
        while (start > 0 && !isSpace(rest.charAt(start - 1))) {
          start--;
        }
        if (start == 0) {
          break;
        }
        out.add(0, rest.substring(start, end));
        rest = rstrip(rest.substring(0, start), null);
      }
      if (!rest.isEmpty()) {
        out.add(0, rest);
      }
      return out;
    }
    List<String> out = new ArrayList<>();
    int end = s.length();
    while (out.size() < maxsplit) {
      int at = s.lastIndexOf(sep, end - sep.length());
      if (at < 0) {
        break;
      }
      out.add(0, s.substring(at + sep.length(), end));
      end = at;
    }
    out.add(0, s.substring(0, end));
    return out;
  }

  private static List<String> splitlines(String s) {
    List<String> out = new ArrayList<>();
    int start = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\n' || c == '\r') {
        out.add(s.substring(start, i));
        if (c == '\r' && i + 1 < s.length() && s.charAt(i + 1) == '\n') {
          i++;
        }
        start = i + 1;
      }
    }
    if (start < s.length()) {
      out.add(s.substring(start));
    }
    return out;
  }

  private static String replace(String s, String old, String replacement, int count) {
    if (count < 0) {
      return s.replace(old, replacement);
    }
    StringBuilder out = new StringBuilder();
    int from = 0;
    for (int n = 0; n < count; n++) {
      int at = old.isEmpty() ? (from <= s.length() ? from : -1) : s.indexOf(old, from);
      if (at < 0) {
        break;
      }
      out.append(s, from, at).append(replacement);
      from = at + old.length();
    }
    return out.append(s.substring(Math.min(from, s.length()))).toString();
  }

  private static long count(String s, String sub) {
    if (sub.isEmpty()) {
      return s.length() + 1L;
    }
    long n = 0;
    for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) {
      n++;
    }
    return n;
  }

  private static String join(String sep, Object items) {
    if (!(items instanceof Iterable<?> it)) {
      throw new MethodNotFoundException("join takes a list of strings");
    }
    StringBuilder out = new StringBuilder();
    Iterator<?> i = it.iterator();
    while (i.hasNext()) {
      out.append(i.next());
      if (i.hasNext()) {
        out.append(sep);
      }
    }
    return out.toString();
  }

  @Override
  public Object getValue(ELContext context, Object base, Object property) {
    return null;
  }

  @Override
  public Class<?> getType(ELContext context, Object base, Object property) {
    return null;
  }

  @Override
  public void setValue(ELContext context, Object base, Object property, Object value) {}

  @Override
  public boolean isReadOnly(ELContext context, Object base, Object property) {
    return true;
  }

  @Override
  public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
    return null;
  }

  @Override
  public Class<?> getCommonPropertyType(ELContext context, Object base) {
    return null;
  }
}
