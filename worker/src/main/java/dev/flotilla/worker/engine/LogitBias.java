package dev.flotilla.worker.engine;

import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * Values added to the logits of some tokens before sampling (OpenAI's {@code logit_bias}): each in
 * [-100, 100]; -100 bans the token. Kept as two arrays, the shape the engine reads every step.
 */
public final class LogitBias {
  public static final LogitBias NONE = new LogitBias(new int[0], new float[0]);

  private final int[] tokens;
  private final float[] values;

  private LogitBias(int[] tokens, float[] values) {
    this.tokens = tokens;
    this.values = values;
  }

  /**
   * @throws IllegalArgumentException for a negative token id or a value outside [-100, 100]
   */
  public static LogitBias of(Map<Integer, Float> bias) {
    if (bias.isEmpty()) {
      return NONE;
    }
    TreeMap<Integer, Float> sorted = new TreeMap<>(bias);
    int[] tokens = new int[sorted.size()];
    float[] values = new float[sorted.size()];
    int i = 0;
    for (var e : sorted.entrySet()) {
      if (e.getKey() < 0) {
        throw new IllegalArgumentException("logit_bias token ids are >= 0, got " + e.getKey());
      }
      float v = e.getValue();
      if (!(v >= -100 && v <= 100)) {
        throw new IllegalArgumentException(
            "logit_bias values must be in [-100, 100], got " + v + " for token " + e.getKey());
      }
      tokens[i] = e.getKey();
      values[i++] = v;
    }
    return new LogitBias(tokens, values);
  }

  public int size() {
    return tokens.length;
  }

  /** The largest token id, or -1 when empty. */
  public int maxToken() {
    return tokens.length == 0 ? -1 : tokens[tokens.length - 1];
  }

  /** Ascending token ids; not copied: the engine reads them, nothing writes them. */
  int[] tokens() {
    return tokens;
  }

  /** Values in the order of {@link #tokens()}; not copied. */
  float[] values() {
    return values;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof LogitBias b
        && Arrays.equals(tokens, b.tokens)
        && Arrays.equals(values, b.values);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(tokens) + Arrays.hashCode(values);
  }

  @Override
  public String toString() {
    StringBuilder s = new StringBuilder("{");
    for (int i = 0; i < tokens.length; i++) {
      s.append(i == 0 ? "" : ", ").append(tokens[i]).append('=').append(values[i]);
    }
    return s.append('}').toString();
  }
}
