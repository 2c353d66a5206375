package dev.flotilla.testkit;

/**
 * The config.json settings of Gemma 2 and Gemma 3 text models beyond the Llama ones.
 *
 * @param queryPreAttnScalar attention scores are multiplied by its inverse square root (not by
 *     1/sqrt(head_dim))
 * @param attnLogitSoftcapping scores become cap·tanh(score / cap) before the softmax; 0 for none
 * @param finalLogitSoftcapping logits become cap·tanh(logit / cap); 0 for none
 * @param slidingWindowPattern Gemma 3: every this-many-th layer is global, the others slide (Gemma
 *     2 alternates, layer 0 sliding); 0 for Gemma 2
 * @param ropeLocalBaseFreq Gemma 3: RoPE theta of the sliding layers, unscaled; 0 for Gemma 2
 */
public record GemmaSettings(
    double queryPreAttnScalar,
    double attnLogitSoftcapping,
    double finalLogitSoftcapping,
    int slidingWindowPattern,
    double ropeLocalBaseFreq) {

  /** Not a Gemma model. */
  public static final GemmaSettings NONE = new GemmaSettings(0, 0, 0, 0, 0);

  public GemmaSettings {
    if (queryPreAttnScalar < 0
        || attnLogitSoftcapping < 0
        || finalLogitSoftcapping < 0
        || slidingWindowPattern < 0
        || ropeLocalBaseFreq < 0) {
      throw new IllegalArgumentException("Gemma settings must not be negative");
    }
  }

  /** Gemma 2 as google/gemma-2-2b sets it, with this query_pre_attn_scalar. */
  public static GemmaSettings gemma2(double queryPreAttnScalar) {
    return new GemmaSettings(queryPreAttnScalar, 50.0, 30.0, 0, 0);
  }

  /** Gemma 3 text as google/gemma-3-1b sets it (no soft-capping), with this scalar. */
  public static GemmaSettings gemma3(double queryPreAttnScalar) {
    return new GemmaSettings(queryPreAttnScalar, 0, 0, 6, 10000.0);
  }

  public GemmaSettings withSoftcapping(double attention, double finalLogits) {
    return new GemmaSettings(
        queryPreAttnScalar, attention, finalLogits, slidingWindowPattern, ropeLocalBaseFreq);
  }

  public GemmaSettings withSlidingWindowPattern(int pattern) {
    return new GemmaSettings(
        queryPreAttnScalar,
        attnLogitSoftcapping,
        finalLogitSoftcapping,
        pattern,
        ropeLocalBaseFreq);
  }
}
