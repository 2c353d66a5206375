package dev.flotilla.testkit;

import java.util.Arrays;

/**
 * The Llama-family variants the engine serves; they differ in config names, q/k/v biases, Qwen3's
 * and Gemma 3's per-head q/k RMSNorm, Phi-3's fused projections and Gemma's norms and activation.
 */
public enum Architecture {
  LLAMA("LlamaForCausalLM", "llama", false, false),
  /** Mistral attends within {@code sliding_window} positions when the config sets one. */
  MISTRAL("MistralForCausalLM", "mistral", false, false),
  /** Qwen2 has biases on q/k/v (not o) and no {@code attention_bias} key in its config. */
  QWEN2("Qwen2ForCausalLM", "qwen2", true, false),
  /**
   * Qwen3 normalizes each q and k head (RMSNorm, one weight of head_dim per layer for each) before
   * RoPE; no biases; head_dim is set on its own, not hidden_size / heads.
   */
  QWEN3("Qwen3ForCausalLM", "qwen3", false, true),
  /**
   * Phi-3 is Llama with q, k, v in one {@code qkv_proj} and gate, up in one {@code gate_up_proj}
   * (rows concatenated in that order); it attends within {@code sliding_window} when set.
   */
  PHI3("Phi3ForCausalLM", "phi3", false, false),
  /**
   * Gemma 2: GeGLU (tanh GELU), embeddings times sqrt(hidden), RMSNorm by (1 + w), norms after
   * attention and MLP as well as before, its own attention scale, soft-capped scores and logits,
   * sliding-window layers alternating with global ones.
   */
  GEMMA2("Gemma2ForCausalLM", "gemma2", false, false),
  /**
   * Gemma 3 text: Gemma 2 with q/k head norms, every {@code sliding_window_pattern}-th layer global
   * and its own RoPE theta for the sliding layers.
   */
  GEMMA3("Gemma3ForCausalLM", "gemma3_text", false, true);

  private final String className;
  private final String modelType;
  private final boolean qkvBias;
  private final boolean qkNorm;

  Architecture(String className, String modelType, boolean qkvBias, boolean qkNorm) {
    this.className = className;
    this.modelType = modelType;
    this.qkvBias = qkvBias;
    this.qkNorm = qkNorm;
  }

  /** The entry in config.json {@code architectures}, e.g. {@code LlamaForCausalLM}. */
  public String className() {
    return className;
  }

  /** config.json {@code model_type}. */
  public String modelType() {
    return modelType;
  }

  public boolean qkvBias() {
    return qkvBias;
  }

  /** q_norm / k_norm weights [head_dim] in every layer's self_attn. */
  public boolean qkNorm() {
    return qkNorm;
  }

  /** qkv_proj and gate_up_proj instead of q/k/v_proj and gate/up_proj (Phi-3). */
  public boolean fusedProjections() {
    return this == PHI3;
  }

  /** Gemma 2 or 3: the settings of {@link GemmaSettings} apply. */
  public boolean gemma() {
    return this == GEMMA2 || this == GEMMA3;
  }

  /** The projections a decoder layer stores, in module order. */
  public java.util.List<Projection> projections() {
    return fusedProjections()
        ? java.util.List.of(
            Projection.QKV_PROJ, Projection.O_PROJ, Projection.GATE_UP_PROJ, Projection.DOWN_PROJ)
        : java.util.List.of(Projection.unfused());
  }

  public static Architecture fromClassName(String name) {
    return Arrays.stream(values())
        .filter(a -> a.className.equals(name))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("unsupported architecture: " + name));
  }
}
