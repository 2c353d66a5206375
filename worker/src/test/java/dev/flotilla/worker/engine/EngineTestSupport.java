package dev.flotilla.worker.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;

/** Shared helpers of the engine tests. */
final class EngineTestSupport {
  private EngineTestSupport() {}

  /** Fails (does not skip) when the library did not load: the build produced it. */
  static void requireEngine() {
    assertThat(NativeEngine.unavailabilityCause()).as("native engine load failure").isNull();
  }

  static ContextParams smallContext() {
    return ContextParams.defaults()
        .withKvBudgetBytes(16L << 20)
        .withMaxBatchTokens(256)
        .withMaxSequences(16)
        .withThreads(2);
  }

  /** Logits of every position of one sequence, prefilled from position 0. */
  static float[][] prefill(EngineContext ctx, int vocab, int seq, int[] tokens, Adapter adapter) {
    Batch batch = new Batch(tokens.length);
    for (int i = 0; i < tokens.length; i++) {
      batch.add(tokens[i], seq, i, adapter, true);
    }
    ByteBuffer logits = ctx.allocateLogits(tokens.length);
    ctx.decode(batch, logits);
    return rows(logits, tokens.length, vocab);
  }

  static float[][] rows(ByteBuffer logits, int n, int vocab) {
    float[][] out = new float[n][vocab];
    for (int r = 0; r < n; r++) {
      for (int v = 0; v < vocab; v++) {
        out[r][v] = logits.getFloat((r * vocab + v) * 4);
      }
    }
    return out;
  }

  /** max |got - ref| / max |ref| */
  static double maxRelativeError(float[][] got, double[][] ref) {
    double diff = 0;
    double mag = 0;
    for (int r = 0; r < ref.length; r++) {
      for (int v = 0; v < ref[r].length; v++) {
        diff = Math.max(diff, Math.abs(got[r][v] - ref[r][v]));
        mag = Math.max(mag, Math.abs(ref[r][v]));
      }
    }
    return diff / mag;
  }
}
