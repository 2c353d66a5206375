package dev.flotilla.operator.model;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Go-style durations as Kubernetes users write them: {@code 90s}, {@code 5m}, {@code 1h30m}, {@code
 * 1.5s}.
 */
public final class GoDurations {
  private static final Pattern WHOLE = Pattern.compile("^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$");
  private static final Pattern PART = Pattern.compile("([0-9]+(?:\\.[0-9]+)?)(ms|s|m|h)");

  private GoDurations() {}

  public static Duration parse(String text) {
    if (text == null || !WHOLE.matcher(text).matches()) {
      throw new IllegalArgumentException("not a duration like 90s, 5m or 1h30m: " + text);
    }
    double millis = 0;
    Matcher m = PART.matcher(text);
    while (m.find()) {
      double value = Double.parseDouble(m.group(1));
      millis +=
          value
              * switch (m.group(2)) {
                case "ms" -> 1;
                case "s" -> 1_000;
                case "m" -> 60_000;
                default -> 3_600_000;
              };
    }
    return Duration.ofMillis(Math.round(millis));
  }

  /** {@code text} parsed, or {@code fallback} when unset. */
  public static Duration parse(String text, Duration fallback) {
    return text == null ? fallback : parse(text);
  }
}
