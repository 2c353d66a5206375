package dev.flotilla.worker.structured;

import dev.flotilla.worker.structured.ByteNfa.Fragment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A deterministic automaton over bytes, built from a {@link ByteNfa} by subset construction and
 * trimmed: every state it keeps can still reach an accepting one, so a text the automaton has not
 * rejected can always be completed. State 0 is the start; {@link #DEAD} is rejection.
 */
public final class ByteDfa {
  public static final int DEAD = -1;

  /** Beyond this the schema is refused rather than compiled. */
  static final int MAX_STATES = 50_000;

  private final int[] next; // [state * 256 + byte] -> state or DEAD
  private final boolean[] accepting;
  private final boolean[] complete; // accepting with no way on: only the end may follow

  private ByteDfa(int[] next, boolean[] accepting) {
    this.next = next;
    this.accepting = accepting;
    this.complete = new boolean[accepting.length];
    for (int s = 0; s < accepting.length; s++) {
      boolean out = false;
      for (int b = 0; b < 256 && !out; b++) {
        out = next[s * 256 + b] != DEAD;
      }
      complete[s] = accepting[s] && !out;
    }
  }

  public int states() {
    return accepting.length;
  }

  /** The state after {@code b} (0..255) from {@code state}, or {@link #DEAD}. */
  public int step(int state, int b) {
    return next[state * 256 + b];
  }

  /** The state after the bytes from {@code state}, or {@link #DEAD}. */
  public int walk(int state, byte[] bytes) {
    for (int i = 0; i < bytes.length && state != DEAD; i++) {
      state = next[state * 256 + (bytes[i] & 0xff)];
    }
    return state;
  }

  /** Whether the text read so far is a whole value. */
  public boolean accepting(int state) {
    return accepting[state];
  }

  /** Whether the text read so far is a whole value that nothing may extend. */
  public boolean complete(int state) {
    return complete[state];
  }

  /** Whether the whole of {@code bytes} is accepted. */
  public boolean matches(byte[] bytes) {
    int s = walk(0, bytes);
    return s != DEAD && accepting[s];
  }

  static ByteDfa determinize(ByteNfa nfa, Fragment root, String field) {
    Map<Key, Integer> ids = new HashMap<>();
    List<int[]> sets = new ArrayList<>();
    int[] scratchMark = new int[nfa.size()];
    int[] first = closure(nfa, new int[] {root.start()}, scratchMark, 1);
    ids.put(new Key(first), 0);
    sets.add(first);
    List<int[]> rows = new ArrayList<>();
    int[][] buckets = new int[256][];
    int[] bucketSize = new int[256];
    int stamp = 2;
    for (int d = 0; d < sets.size(); d++) {
      if ((d & 63) == 0 && Thread.currentThread().isInterrupted()) {
        throw new SchemaException(field, "compiling the schema was stopped");
      }
      Arrays.fill(bucketSize, 0);
      for (int s : sets.get(d)) {
        int[] r = nfa.ranges.get(s);
        for (int i = 0; i < r.length; i += 3) {
          for (int b = r[i]; b <= r[i + 1]; b++) {
            if (buckets[b] == null || bucketSize[b] == buckets[b].length) {
              buckets[b] =
                  buckets[b] == null ? new int[4] : Arrays.copyOf(buckets[b], bucketSize[b] * 2);
            }
            buckets[b][bucketSize[b]++] = r[i + 2];
          }
        }
      }
      int[] row = new int[256];
      Arrays.fill(row, DEAD);
      Map<Key, Integer> sameStep = new HashMap<>(); // many bytes share a target set
      for (int b = 0; b < 256; b++) {
        if (bucketSize[b] == 0) {
          continue;
        }
        Key raw = new Key(Arrays.copyOf(buckets[b], bucketSize[b]));
        Integer known = sameStep.get(raw);
        if (known == null) {
          int[] set = closure(nfa, raw.states, scratchMark, stamp++);
          Key key = new Key(set);
          known = ids.get(key);
          if (known == null) {
            if (sets.size() >= MAX_STATES) {
              throw new SchemaException(
                  field,
                  "the schema is too large to compile (more than " + MAX_STATES + " states)");
            }
            known = sets.size();
            ids.put(key, known);
            sets.add(set);
          }
          sameStep.put(raw, known);
        }
        row[b] = known;
      }
      rows.add(row);
    }
    int n = sets.size();
    int[] next = new int[n * 256];
    boolean[] accepting = new boolean[n];
    for (int d = 0; d < n; d++) {
      System.arraycopy(rows.get(d), 0, next, d * 256, 256);
      accepting[d] = Arrays.binarySearch(sets.get(d), root.end()) >= 0;
    }
    return trim(next, accepting, field);
  }

  /** Sorted epsilon closure of {@code seeds}. */
  private static int[] closure(ByteNfa nfa, int[] seeds, int[] mark, int stamp) {
    ArrayDeque<Integer> work = new ArrayDeque<>();
    int[] out = new int[8];
    int size = 0;
    for (int s : seeds) {
      if (mark[s] != stamp) {
        mark[s] = stamp;
        work.add(s);
      }
    }
    while (!work.isEmpty()) {
      int s = work.poll();
      if (size == out.length) {
        out = Arrays.copyOf(out, size * 2);
      }
      out[size++] = s;
      for (int t : nfa.epsilon.get(s)) {
        if (mark[t] != stamp) {
          mark[t] = stamp;
          work.add(t);
        }
      }
    }
    int[] set = Arrays.copyOf(out, size);
    Arrays.sort(set);
    return set;
  }

  /** Drops the states from which no accepting state is reachable; renumbers the rest. */
  private static ByteDfa trim(int[] next, boolean[] accepting, String field) {
    int n = accepting.length;
    List<List<Integer>> reverse = new ArrayList<>(n);
    for (int s = 0; s < n; s++) {
      reverse.add(new ArrayList<>());
    }
    for (int s = 0; s < n; s++) {
      for (int b = 0; b < 256; b++) {
        int t = next[s * 256 + b];
        if (t != DEAD) {
          reverse.get(t).add(s);
        }
      }
    }
    boolean[] live = new boolean[n];
    ArrayDeque<Integer> work = new ArrayDeque<>();
    for (int s = 0; s < n; s++) {
      if (accepting[s]) {
        live[s] = true;
        work.add(s);
      }
    }
    while (!work.isEmpty()) {
      for (int p : reverse.get(work.poll())) {
        if (!live[p]) {
          live[p] = true;
          work.add(p);
        }
      }
    }
    if (!live[0]) {
      throw new SchemaException(field, "the schema allows no value");
    }
    int[] renumber = new int[n];
    int kept = 0;
    for (int s = 0; s < n; s++) {
      renumber[s] = live[s] ? kept++ : DEAD;
    }
    int[] outNext = new int[kept * 256];
    boolean[] outAccepting = new boolean[kept];
    for (int s = 0; s < n; s++) {
      if (live[s]) {
        int r = renumber[s];
        outAccepting[r] = accepting[s];
        for (int b = 0; b < 256; b++) {
          int t = next[s * 256 + b];
          outNext[r * 256 + b] = t == DEAD ? DEAD : renumber[t];
        }
      }
    }
    return new ByteDfa(outNext, outAccepting);
  }

  private record Key(int[] states) {
    @Override
    public boolean equals(Object o) {
      return o instanceof Key k && Arrays.equals(states, k.states);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(states);
    }
  }
}
