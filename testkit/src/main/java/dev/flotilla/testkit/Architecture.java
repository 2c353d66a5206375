package dev.flotilla.testkit;

import java.util.Arrays;

/**
 * The Llama-family variants the engine serves; they differ in config names, q/k/v biases and
 * Qwen3's per-head q/k RMSNorm.
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
  QWEN3("Qwen3ForCausalLM", "qwen3", false, true);

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

  public static Architecture fromClassName(String name) {
    return Arrays.stream(values())
        .filter(a -> a.className.equals(name))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("unsupported architecture: " + name));
  }
}
