package dev.flotilla.testkit;

import java.util.Arrays;

/**
 * The seven linear layers of a Llama decoder layer, with their Hugging Face module names and
 * shapes. Weights are stored [out, in] as {@code torch.nn.Linear} stores them. This is the one
 * place the generator, the LoRA generator and the reference model learn names and shapes from.
 */
public enum Projection {
  Q_PROJ("self_attn", "q_proj"),
  K_PROJ("self_attn", "k_proj"),
  V_PROJ("self_attn", "v_proj"),
  O_PROJ("self_attn", "o_proj"),
  GATE_PROJ("mlp", "gate_proj"),
  UP_PROJ("mlp", "up_proj"),
  DOWN_PROJ("mlp", "down_proj");

  private final String block;
  private final String moduleName;

  Projection(String block, String moduleName) {
    this.block = block;
    this.moduleName = moduleName;
  }

  /** The PEFT {@code target_modules} name, e.g. {@code q_proj}. */
  public String moduleName() {
    return moduleName;
  }

  /** Module path inside the base model, e.g. {@code model.layers.3.self_attn.q_proj}. */
  public String modulePath(int layer) {
    return "model.layers." + layer + "." + block + "." + moduleName;
  }

  public String weightName(int layer) {
    return modulePath(layer) + ".weight";
  }

  public String biasName(int layer) {
    return modulePath(layer) + ".bias";
  }

  public boolean hasBias(ModelConfig config) {
    return config.qkvBias() && (this == Q_PROJ || this == K_PROJ || this == V_PROJ);
  }

  public int outFeatures(ModelConfig config) {
    return switch (this) {
      case Q_PROJ -> config.numAttentionHeads() * config.headDim();
      case K_PROJ, V_PROJ -> config.numKeyValueHeads() * config.headDim();
      case O_PROJ, DOWN_PROJ -> config.hiddenSize();
      case GATE_PROJ, UP_PROJ -> config.intermediateSize();
    };
  }

  public int inFeatures(ModelConfig config) {
    return switch (this) {
      case Q_PROJ, K_PROJ, V_PROJ, GATE_PROJ, UP_PROJ -> config.hiddenSize();
      case O_PROJ -> config.numAttentionHeads() * config.headDim();
      case DOWN_PROJ -> config.intermediateSize();
    };
  }

  public static Projection fromModuleName(String name) {
    return Arrays.stream(values())
        .filter(p -> p.moduleName.equals(name))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("not a Llama projection: " + name));
  }
}
