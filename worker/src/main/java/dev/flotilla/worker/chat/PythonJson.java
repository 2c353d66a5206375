package dev.flotilla.worker.chat;

import java.math.BigDecimal;
import java.util.Iterator;
import java.util.Map;

/**
 * Values as Python's {@code json.dumps(value, ensure_ascii=False, indent=indent)} writes them,
 * which is what the {@code tojson} filter of Hugging Face's chat templates produces: {@code ", "}
 * and {@code ": "} between items without an indent, {@code ","} and {@code ": "} with one,
 * non-ASCII text as is, {@code 1} for integers and {@code 1.0} for floats.
 */
final class PythonJson {
  private PythonJson() {}

  static String dumps(Object value, Integer indent, boolean sortKeys) {
    StringBuilder out = new StringBuilder();
    write(out, value, indent, sortKeys, 0);
    return out.toString();
  }

  private static void write(StringBuilder out, Object v, Integer indent, boolean sort, int depth) {
    if (v == null) {
      out.append("null");
    } else if (v instanceof Boolean b) {
      out.append(b ? "true" : "false");
    } else if (v instanceof Number n) {
      out.append(number(n));
    } else if (v instanceof Map<?, ?> map) {
      Iterable<? extends Map.Entry<?, ?>> entries = map.entrySet();
      if (sort) {
        entries =
            map.entrySet().stream()
                .sorted((a, b) -> String.valueOf(a.getKey()).compareTo(String.valueOf(b.getKey())))
                .toList();
      }
      writeItems(out, '{', '}', entries.iterator(), indent, sort, depth, true);
    } else if (v instanceof Iterable<?> list) {
      writeItems(out, '[', ']', list.iterator(), indent, sort, depth, false);
    } else if (v instanceof Object[] array) {
      writeItems(
          out, '[', ']', java.util.Arrays.asList(array).iterator(), indent, sort, depth, false);
    } else {
      string(out, v.toString());
    }
  }

  private static void writeItems(
      StringBuilder out,
      char open,
      char close,
      Iterator<?> items,
      Integer indent,
      boolean sort,
      int depth,
      boolean isMap) {
    out.append(open);
    if (!items.hasNext()) {
      out.append(close);
      return;
    }
    boolean first = true;
    while (items.hasNext()) {
      Object item = items.next();
      if (!first) {
        out.append(indent == null ? ", " : ",");
      }
      first = false;
      newline(out, indent, depth + 1);
      if (isMap) {
        Map.Entry<?, ?> e = (Map.Entry<?, ?>) item;
        string(out, String.valueOf(e.getKey()));
        out.append(": ");
        write(out, e.getValue(), indent, sort, depth + 1);
      } else {
        write(out, item, indent, sort, depth + 1);
      }
    }
    newline(out, indent, depth);
    out.append(close);
  }

  private static void newline(StringBuilder out, Integer indent, int depth) {
    if (indent != null) {
      out.append('\n').append(" ".repeat(indent * depth));
    }
  }

  /** Python's repr of an int or float: {@code 3}, {@code 0.5}, {@code 1.0}, {@code 1e-05}. */
  static String number(Number n) {
    if (n instanceof Double || n instanceof Float) {
      double d = n.doubleValue();
      if (Double.isNaN(d)) {
        return "NaN";
      }
      if (Double.isInfinite(d)) {
        return d > 0 ? "Infinity" : "-Infinity";
      }
      String s = Double.toString(d);
      int e = s.indexOf('E');
      if (e < 0) {
        return s;
      }
      String mantissa = s.substring(0, e);
      if (mantissa.endsWith(".0")) {
        mantissa = mantissa.substring(0, mantissa.length() - 2);
      }
      int exponent = Integer.parseInt(s.substring(e + 1));
      if (exponent >= -4 && exponent < 16) {
        String plain = new BigDecimal(s).stripTrailingZeros().toPlainString();
        return plain.contains(".") ? plain : plain + ".0";
      }
      return mantissa
          + "e"
          + (exponent < 0 ? "-" : "+")
          + String.format("%02d", Math.abs(exponent));
    }
    if (n instanceof BigDecimal b) {
      return number(b.doubleValue());
    }
    return n.toString();
  }

  private static void string(StringBuilder out, String s) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }
}
