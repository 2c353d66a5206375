package dev.flotilla.worker.text;

import java.util.List;

/**
 * Finds stop sequences in streamed text. Text that might be the start of a stop sequence is held
 * back until it is known not to be one, so a client never sees any part of a stop sequence.
 */
public final class StopMatcher {
  private final List<String> stops;
  private final StringBuilder held = new StringBuilder();
  private boolean matched;

  public StopMatcher(List<String> stops) {
    this.stops = List.copyOf(stops);
  }

  /** What to emit after appending {@code delta}, and whether a stop sequence matched. */
  public record Result(String text, boolean matched) {}

  public Result push(String delta) {
    if (matched) {
      return new Result("", true);
    }
    if (stops.isEmpty()) {
      return new Result(delta, false);
    }
    held.append(delta);
    int first = -1;
    for (String stop : stops) {
      int at = held.indexOf(stop);
      if (at >= 0 && (first < 0 || at < first)) {
        first = at;
      }
    }
    if (first >= 0) {
      matched = true;
      String text = held.substring(0, first);
      held.setLength(0);
      return new Result(text, true);
    }
    int keep = 0;
    for (String stop : stops) {
      keep = Math.max(keep, overlap(held, stop));
    }
    String text = held.substring(0, held.length() - keep);
    held.delete(0, held.length() - keep);
    return new Result(text, false);
  }

  /** Text held back because it could have begun a stop sequence. */
  public String flush() {
    String text = matched ? "" : held.toString();
    held.setLength(0);
    return text;
  }

  /** Length of the longest suffix of {@code text} that is a proper prefix of {@code stop}. */
  private static int overlap(CharSequence text, String stop) {
    for (int k = Math.min(stop.length() - 1, text.length()); k > 0; k--) {
      boolean same = true;
      for (int i = 0; i < k && same; i++) {
        same = text.charAt(text.length() - k + i) == stop.charAt(i);
      }
      if (same) {
        return k;
      }
    }
    return 0;
  }
}
