package dev.flotilla.worker.structured;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A nondeterministic automaton over bytes under construction (Thompson style): states with epsilon
 * edges and byte-range edges. Fragments have one start and one end state; every fragment built is
 * fresh, so a fragment used in two places is built twice and each copy keeps its own continuation.
 */
final class ByteNfa {
  /** Beyond this the schema is refused rather than compiled. */
  static final int MAX_STATES = 200_000;

  /** A piece of automaton entered at {@code start} and left at {@code end}. */
  record Fragment(int start, int end) {}

  final List<int[]> epsilon = new ArrayList<>(); // per state: targets
  final List<int[]> ranges = new ArrayList<>(); // per state: (lo, hi, target) triples
  private final String field;

  ByteNfa(String field) {
    this.field = field;
  }

  int size() {
    return epsilon.size();
  }

  int newState() {
    if ((epsilon.size() & 1023) == 0 && Thread.currentThread().isInterrupted()) {
      throw new SchemaException(field, "compiling the schema was stopped");
    }
    if (epsilon.size() >= MAX_STATES) {
      throw new SchemaException(
          field, "the schema is too large to compile (more than " + MAX_STATES + " states)");
    }
    epsilon.add(new int[0]);
    ranges.add(new int[0]);
    return epsilon.size() - 1;
  }

  void epsilon(int from, int to) {
    int[] old = epsilon.get(from);
    int[] grown = java.util.Arrays.copyOf(old, old.length + 1);
    grown[old.length] = to;
    epsilon.set(from, grown);
  }

  /** An edge on every byte in {@code lo..hi} (unsigned, inclusive). */
  void range(int from, int lo, int hi, int to) {
    int[] old = ranges.get(from);
    int[] grown = java.util.Arrays.copyOf(old, old.length + 3);
    grown[old.length] = lo;
    grown[old.length + 1] = hi;
    grown[old.length + 2] = to;
    ranges.set(from, grown);
  }

  Fragment literal(String text) {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    int start = newState();
    int at = start;
    for (byte b : bytes) {
      int next = newState();
      range(at, b & 0xff, b & 0xff, next);
      at = next;
    }
    return new Fragment(start, at);
  }

  /** a then b. */
  Fragment then(Fragment a, Fragment b) {
    epsilon(a.end, b.start);
    return new Fragment(a.start, b.end);
  }

  Fragment union(List<Fragment> alternatives) {
    int start = newState();
    int end = newState();
    for (Fragment f : alternatives) {
      epsilon(start, f.start);
      epsilon(f.end, end);
    }
    return new Fragment(start, end);
  }

  /** One or more of {@code f}, each after the first preceded by {@code separator}. */
  Fragment oneOrMore(Fragment f, Fragment separator) {
    epsilon(f.end, separator.start);
    epsilon(separator.end, f.start);
    return f;
  }

  /** Zero or one. */
  Fragment optional(Fragment f) {
    epsilon(f.start, f.end);
    return f;
  }
}
