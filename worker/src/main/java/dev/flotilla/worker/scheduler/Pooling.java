package dev.flotilla.worker.scheduler;

/**
 * How an embedding request turns its prompt's final hidden states (after the model's final norm)
 * into one vector, as sentence-transformers does.
 *
 * @param mode which states: the last token's, or the mean over every prompt token
 * @param normalize scale the vector to unit length (a Normalize module)
 */
public record Pooling(Mode mode, boolean normalize) {

  public Pooling {
    if (mode == null) {
      throw new IllegalArgumentException("pooling mode is null");
    }
  }

  /** The pooling modes the worker serves. */
  public enum Mode {
    /** the last prompt token's state: {@code pooling_mode_lasttoken} */
    LAST_TOKEN,
    /** the mean over the prompt tokens: {@code pooling_mode_mean_tokens} */
    MEAN
  }

  /** Whether every prompt row's hidden state is needed, not the last one's alone. */
  boolean needsEveryRow() {
    return mode == Mode.MEAN;
  }

  /** Accumulates the hidden rows of one sequence's prompt, chunk by chunk. */
  static final class Accumulator {
    private final Pooling pooling;
    private final double[] sum;
    private int rows;

    Accumulator(Pooling pooling, int hiddenSize) {
      this.pooling = pooling;
      this.sum = new double[hiddenSize];
    }

    /** Adds a row's hidden state (for last-token pooling: replaces the previous one). */
    void add(float[] hidden) {
      if (pooling.mode == Mode.LAST_TOKEN) {
        java.util.Arrays.fill(sum, 0);
        rows = 0;
      }
      for (int i = 0; i < sum.length; i++) {
        sum[i] += hidden[i];
      }
      rows++;
    }

    /** Forgets what was added (the sequence was preempted and recomputes its prompt). */
    void reset() {
      java.util.Arrays.fill(sum, 0);
      rows = 0;
    }

    /** The pooled vector, normalised when the pooling says so. */
    float[] result() {
      if (rows == 0) {
        throw new IllegalStateException("no hidden state was pooled");
      }
      double[] v = new double[sum.length];
      for (int i = 0; i < v.length; i++) {
        v[i] = sum[i] / rows;
      }
      double scale = 1;
      if (pooling.normalize) {
        double norm = 0;
        for (double x : v) {
          norm += x * x;
        }
        scale = 1 / Math.max(Math.sqrt(norm), 1e-12); // torch.nn.functional.normalize's eps
      }
      float[] out = new float[v.length];
      for (int i = 0; i < out.length; i++) {
        out[i] = (float) (v[i] * scale);
      }
      return out;
    }
  }
}
