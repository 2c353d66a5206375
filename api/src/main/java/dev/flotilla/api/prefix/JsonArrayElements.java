package dev.flotilla.api.prefix;

import java.util.Arrays;

/**
 * Where the elements of a JSON array's text are, without parsing them: the prefix keys hash each
 * chat message's text as sent, so the gateway and the worker need the same boundaries, not the
 * values. Text that is not an array (the worker refuses such a request anyway) is one element.
 */
final class JsonArrayElements {
  private JsonArrayElements() {}

  /** Start and end (exclusive) of each top-level element, trimmed, as pairs in one array. */
  static int[] split(String json) {
    int i = skipSpace(json, 0);
    if (i >= json.length() || json.charAt(i) != '[') {
      return whole(json);
    }
    int[] out = new int[16];
    int n = 0;
    int depth = 0;
    int start = -1;
    int lastNonSpace = -1;
    boolean inString = false;
    for (i = i + 1; i < json.length(); i++) {
      char c = json.charAt(i);
      if (inString) {
        if (c == '\\') {
          i++;
        } else if (c == '"') {
          inString = false;
        }
        lastNonSpace = i;
        continue;
      }
      if (Character.isWhitespace(c)) {
        continue;
      }
      if (depth == 0 && (c == ',' || c == ']')) {
        if (start >= 0) {
          if (n + 2 > out.length) {
            out = Arrays.copyOf(out, out.length * 2);
          }
          out[n++] = start;
          out[n++] = lastNonSpace + 1;
          start = -1;
        }
        if (c == ']') {
          return Arrays.copyOf(out, n);
        }
        continue;
      }
      if (start < 0) {
        start = i;
      }
      if (c == '"') {
        inString = true;
      } else if (c == '{' || c == '[') {
        depth++;
      } else if (c == '}' || c == ']') {
        depth--;
      }
      lastNonSpace = i;
    }
    return whole(json); // unterminated
  }

  private static int[] whole(String json) {
    return json.isEmpty() ? new int[0] : new int[] {0, json.length()};
  }

  private static int skipSpace(String s, int i) {
    while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
      i++;
    }
    return i;
  }
}
