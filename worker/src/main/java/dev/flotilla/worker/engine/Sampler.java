package dev.flotilla.worker.engine;

import java.nio.ByteBuffer;

/** Native sampling from a logits row (greedy, temperature, top-k, top-p). */
public final class Sampler {
  private Sampler() {}

  /**
   * Samples from row {@code row} of {@code logits} (float32 [rows, vocab]). The draw depends only
   * on (seed, step): pass the sequence's generation step so batching does not change the tokens.
   */
  public static SampledToken sample(
      ByteBuffer logits, int row, int vocab, SamplingParams params, long step) {
    NativeEngine.ensureAvailable();
    long packed =
        NativeEngine.sample(
            logits,
            (long) row * vocab,
            vocab,
            params.temperature(),
            params.topK(),
            params.topP(),
            params.seed(),
            step);
    return new SampledToken((int) (packed >> 32), Float.intBitsToFloat((int) packed));
  }
}
