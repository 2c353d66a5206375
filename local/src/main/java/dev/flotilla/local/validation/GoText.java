package dev.flotilla.local.validation;

import java.math.BigDecimal;

/**
 * Values as kube-apiserver prints them in its messages, which Go's {@code fmt} writes: {@code %q}
 * quotes a string the way {@code strconv.Quote} does, and {@code %v} prints a float64 in the
 * shortest form that round-trips, switching to an exponent at 1e+06 and below 1e-04 (so a maximum
 * of 1048576 reads {@code 1.048576e+06}).
 */
public final class GoText {
  private GoText() {}

  /** {@code strconv.Quote}: double quotes, Go escapes for control and non-printable characters. */
  public static String quote(String s) {
    StringBuilder out = new StringBuilder(s.length() + 2).append('"');
    s.codePoints()
        .forEach(
            c -> {
              switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case 0x07 -> out.append("\\a");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case 0x0b -> out.append("\\v");
                default -> {
                  if (printable(c)) {
                    out.appendCodePoint(c);
                  } else if (c < 0x20 || c == 0x7f) {
                    out.append(String.format("\\x%02x", c));
                  } else if (c < 0x10000) {
                    out.append(String.format("\\u%04x", c));
                  } else {
                    out.append(String.format("\\U%08x", c));
                  }
                }
              }
            });
    return out.append('"').toString();
  }

  private static boolean printable(int c) {
    if (c == ' ') {
      return true;
    }
    return switch (Character.getType(c)) {
      case Character.CONTROL,
          Character.FORMAT,
          Character.SURROGATE,
          Character.UNASSIGNED,
          Character.PRIVATE_USE,
          Character.LINE_SEPARATOR,
          Character.PARAGRAPH_SEPARATOR,
          Character.SPACE_SEPARATOR ->
          false;
      default -> true;
    };
  }

  /** {@code %v} of a value decoded from JSON: int64, float64, bool or string (unquoted). */
  public static String value(Object v) {
    if (v instanceof Double d) {
      return float64(d);
    }
    if (v instanceof Float f) {
      return float64(f);
    }
    return String.valueOf(v);
  }

  /** {@code %v} of a float64: strconv's shortest {@code 'g'} format, exponent from 1e+06. */
  public static String float64(double v) {
    if (Double.isNaN(v)) {
      return "NaN";
    }
    if (Double.isInfinite(v)) {
      return v > 0 ? "+Inf" : "-Inf";
    }
    if (v == 0) {
      return 1 / v < 0 ? "-0" : "0";
    }
    BigDecimal shortest = new BigDecimal(Double.toString(Math.abs(v))).stripTrailingZeros();
    String digits = shortest.unscaledValue().toString();
    int exponent = digits.length() - 1 - shortest.scale();
    String sign = v < 0 ? "-" : "";
    if (exponent < -4 || exponent >= 6) {
      String mantissa =
          digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
      String exp = String.format("%02d", Math.abs(exponent));
      return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + exp;
    }
    if (exponent < 0) {
      return sign + "0." + "0".repeat(-exponent - 1) + digits;
    }
    if (digits.length() <= exponent + 1) {
      return sign + digits + "0".repeat(exponent + 1 - digits.length());
    }
    return sign + digits.substring(0, exponent + 1) + "." + digits.substring(exponent + 1);
  }
}
