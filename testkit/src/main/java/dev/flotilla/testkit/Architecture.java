package dev.flotilla.testkit;

import java.util.Arrays;

/**
 * The Llama-family variants the engine serves; they differ only in config names and q/k/v biases.
 */
public enum Architecture {
  LLAMA("LlamaForCausalLM", "llama", false),
  MISTRAL("MistralForCausalLM", "mistral", false),
  /** Qwen2 has biases on q/k/v (not o) and no {@code attention_bias} key in its config. */
  QWEN2("Qwen2ForCausalLM", "qwen2", true);

  private final String className;
  private final String modelType;
  private final boolean qkvBias;

  Architecture(String className, String modelType, boolean qkvBias) {
    this.className = className;
    this.modelType = modelType;
    this.qkvBias = qkvBias;
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

  public static Architecture fromClassName(String name) {
    return Arrays.stream(values())
        .filter(a -> a.className.equals(name))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("unsupported architecture: " + name));
  }
}
