package dev.flotilla.testkit;

/**
 * Hugging Face tensor names of a Llama-family checkpoint outside the seven projections ({@link
 * Projection}).
 */
public final class LlamaTensorNames {

  public static final String EMBED_TOKENS = "model.embed_tokens.weight";
  public static final String FINAL_NORM = "model.norm.weight";
  public static final String LM_HEAD = "lm_head.weight";

  private LlamaTensorNames() {}

  public static String inputLayerNorm(int layer) {
    return "model.layers." + layer + ".input_layernorm.weight";
  }

  public static String postAttentionLayerNorm(int layer) {
    return "model.layers." + layer + ".post_attention_layernorm.weight";
  }

  /** Gemma's norm of the MLP input (Llama's post_attention_layernorm plays this part). */
  public static String preFeedforwardLayerNorm(int layer) {
    return "model.layers." + layer + ".pre_feedforward_layernorm.weight";
  }

  /** Gemma's norm of the MLP output, before the residual add. */
  public static String postFeedforwardLayerNorm(int layer) {
    return "model.layers." + layer + ".post_feedforward_layernorm.weight";
  }

  /** Qwen3's RMSNorm weight [head_dim] applied to each query head before RoPE. */
  public static String queryNorm(int layer) {
    return "model.layers." + layer + ".self_attn.q_norm.weight";
  }

  /** Qwen3's RMSNorm weight [head_dim] applied to each key head before RoPE. */
  public static String keyNorm(int layer) {
    return "model.layers." + layer + ".self_attn.k_norm.weight";
  }
}
