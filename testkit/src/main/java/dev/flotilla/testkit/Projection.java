package dev.flotilla.testkit;

import java.util.Arrays;

/**
 * The linear layers of a Llama-family decoder layer, with their Hugging Face module names and
 * shapes: the seven of Llama ({@link #unfused()}), and Phi-3's fused {@code qkv_proj} (q, k, v rows
 * concatenated) and {@code gate_up_proj} (gate, up). Weights are stored [out, in] as {@code
 * torch.nn.Linear} stores them. This is the one place the generator, the LoRA generator and the
 * reference model learn names and shapes from; {@link Architecture#projections()} says which a
 * model has.
 */
public enum Projection {
  Q_PROJ("self_attn", "q_proj"),
  K_PROJ("self_attn", "k_proj"),
  V_PROJ("self_attn", "v_proj"),
  O_PROJ("self_attn", "o_proj"),
  GATE_PROJ("mlp", "gate_proj"),
  UP_PROJ("mlp", "up_proj"),
  DOWN_PROJ("mlp", "down_proj"),
  QKV_PROJ("self_attn", "qkv_proj"),
  GATE_UP_PROJ("mlp", "gate_up_proj");

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
      case QKV_PROJ ->
          (config.numAttentionHeads() + 2 * config.numKeyValueHeads()) * config.headDim();
      case GATE_UP_PROJ -> 2 * config.intermediateSize();
    };
  }

  public int inFeatures(ModelConfig config) {
    return switch (this) {
      case Q_PROJ, K_PROJ, V_PROJ, GATE_PROJ, UP_PROJ, QKV_PROJ, GATE_UP_PROJ ->
          config.hiddenSize();
      case O_PROJ -> config.numAttentionHeads() * config.headDim();
      case DOWN_PROJ -> config.intermediateSize();
    };
  }

  /** The seven separate projections of Llama, Mistral, Qwen and Gemma, in module order. */
  public static Projection[] unfused() {
    return new Projection[] {Q_PROJ, K_PROJ, V_PROJ, O_PROJ, GATE_PROJ, UP_PROJ, DOWN_PROJ};
  }

  public static Projection fromModuleName(String name) {
    return Arrays.stream(values())
        .filter(p -> p.moduleName.equals(name))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("not a Llama projection: " + name));
  }
}
