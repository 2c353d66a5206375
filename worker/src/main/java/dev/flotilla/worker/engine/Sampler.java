package dev.flotilla.worker.engine;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Native sampling from a logits row: greedy, temperature, top-k, top-p, penalties, logit bias and
 * min_tokens, all applied by the engine ({@code fl_sample}), and the most likely tokens when asked
 * ({@code fl_top_logprobs}).
 */
public final class Sampler {
  private Sampler() {}

  /**
   * Samples from row {@code row} of {@code logits} (float32 [rows, vocab]) for a sequence. The draw
   * depends only on (seed, generation step), so batching does not change the tokens.
   */
  public static SampledToken sample(
      ByteBuffer logits, int row, int vocab, SamplingParams params, SequenceTokens sequence) {
    return sample(
        logits,
        row,
        vocab,
        params,
        sequence.step(),
        params.penalizes() ? sequence : null,
        sequence.step() < params.minTokens() ? sequence.endTokens() : null);
  }

  /**
   * Samples from row {@code row} at generation step {@code step} without a sequence's tokens:
   * penalties and min_tokens have nothing to act on.
   */
  public static SampledToken sample(
      ByteBuffer logits, int row, int vocab, SamplingParams params, long step) {
    return sample(logits, row, vocab, params, step, null, null);
  }

  private static SampledToken sample(
      ByteBuffer logits,
      int row,
      int vocab,
      SamplingParams params,
      long step,
      SequenceTokens history,
      int[] bannedEnds) {
    NativeEngine.ensureAvailable();
    LogitBias bias = params.logitBias();
    int k = Math.min(params.topLogprobs(), vocab);
    int[] topTokens = k > 0 ? new int[k] : null;
    float[] topLogprobs = k > 0 ? new float[k] : null;
    long packed =
        NativeEngine.sample(
            logits,
            (long) row * vocab,
            vocab,
            params.temperature(),
            params.topK(),
            params.topP(),
            params.seed(),
            step,
            params.presencePenalty(),
            params.frequencyPenalty(),
            params.repetitionPenalty(),
            history != null ? history.tokens() : null,
            history != null ? history.length() : 0,
            history != null ? history.promptLength() : 0,
            bias.size() > 0 ? bias.tokens() : null,
            bias.size() > 0 ? bias.values() : null,
            params.minTokens(),
            bannedEnds,
            topTokens,
            topLogprobs);
    List<TokenLogprob> top = List.of();
    if (k > 0) {
      top = new ArrayList<>(k);
      for (int i = 0; i < k; i++) {
        top.add(new TokenLogprob(topTokens[i], topLogprobs[i]));
      }
    }
    return new SampledToken((int) (packed >> 32), Float.intBitsToFloat((int) packed), top);
  }
}
