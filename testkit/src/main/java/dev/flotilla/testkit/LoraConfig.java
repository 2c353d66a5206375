package dev.flotilla.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The fields of a PEFT {@code adapter_config.json} that decide what a LoRA adapter computes.
 *
 * @param layersToTransform the layers adapted; empty means every layer
 */
public record LoraConfig(
    int rank,
    double loraAlpha,
    List<Projection> targetModules,
    boolean useRslora,
    List<Integer> layersToTransform,
    String baseModelNameOrPath) {

  public static final String CONFIG_FILE = "adapter_config.json";
  public static final String WEIGHTS_FILE = "adapter_model.safetensors";

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  public LoraConfig {
    if (rank < 1) {
      throw new IllegalArgumentException("LoRA rank must be at least 1, got " + rank);
    }
    if (targetModules.isEmpty()) {
      throw new IllegalArgumentException("a LoRA adapter needs at least one target module");
    }
    targetModules = List.copyOf(targetModules);
    layersToTransform = List.copyOf(layersToTransform);
  }

  /** PEFT's multiplier on B·A: alpha / r, or alpha / sqrt(r) with rank-stabilised LoRA. */
  public double scale() {
    return useRslora ? loraAlpha / Math.sqrt(rank) : loraAlpha / rank;
  }

  public boolean adaptsLayer(int layer) {
    return layersToTransform.isEmpty() || layersToTransform.contains(layer);
  }

  /**
   * PEFT's saved name of the down-projection, e.g. {@code
   * base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight}; shape [r, in].
   */
  public static String loraAName(Projection projection, int layer) {
    return "base_model.model." + projection.modulePath(layer) + ".lora_A.weight";
  }

  /** PEFT's saved name of the up-projection; shape [out, r]. */
  public static String loraBName(Projection projection, int layer) {
    return "base_model.model." + projection.modulePath(layer) + ".lora_B.weight";
  }

  public static LoraConfig read(Path adapterDirOrConfigFile) throws IOException {
    Path file =
        Files.isDirectory(adapterDirOrConfigFile)
            ? adapterDirOrConfigFile.resolve(CONFIG_FILE)
            : adapterDirOrConfigFile;
    return fromJson(JSON.readTree(file.toFile()));
  }

  public static LoraConfig fromJson(JsonNode json) {
    if (!"LORA".equals(json.path("peft_type").asText())) {
      throw new IllegalArgumentException("peft_type must be LORA, got " + json.path("peft_type"));
    }
    JsonNode targets = json.path("target_modules");
    if (!targets.isArray()) {
      throw new IllegalArgumentException(
          "target_modules must be a list of module names, got " + targets);
    }
    List<Projection> projections = new ArrayList<>();
    targets.forEach(t -> projections.add(Projection.fromModuleName(t.asText())));
    List<Integer> layers = new ArrayList<>();
    JsonNode layersNode = json.path("layers_to_transform");
    if (layersNode.isArray()) {
      layersNode.forEach(l -> layers.add(l.asInt()));
    } else if (layersNode.isInt()) {
      layers.add(layersNode.asInt());
    }
    return new LoraConfig(
        json.path("r").asInt(8),
        json.path("lora_alpha").asDouble(8),
        projections,
        json.path("use_rslora").asBoolean(false),
        layers,
        json.path("base_model_name_or_path").asText(""));
  }

  /**
   * adapter_config.json as PEFT writes it (sorted keys), including the fields loaders expect to
   * find.
   */
  public String toJson() {
    Map<String, Object> json = new TreeMap<>();
    json.put("alpha_pattern", Map.of());
    json.put("auto_mapping", null);
    json.put("base_model_name_or_path", baseModelNameOrPath);
    json.put("bias", "none");
    json.put("fan_in_fan_out", false);
    json.put("inference_mode", true);
    json.put("init_lora_weights", true);
    json.put("layers_pattern", null);
    json.put("layers_to_transform", layersToTransform.isEmpty() ? null : layersToTransform);
    json.put(
        "lora_alpha", loraAlpha == Math.rint(loraAlpha) ? (Object) (long) loraAlpha : loraAlpha);
    json.put("lora_dropout", 0.0);
    json.put("modules_to_save", null);
    json.put("peft_type", "LORA");
    json.put("r", rank);
    json.put("rank_pattern", Map.of());
    json.put("revision", null);
    json.put("target_modules", targetModules.stream().map(Projection::moduleName).toList());
    json.put("task_type", "CAUSAL_LM");
    json.put("use_dora", false);
    json.put("use_rslora", useRslora);
    try {
      return JSON.writeValueAsString(json) + "\n";
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  public void write(Path adapterDir) throws IOException {
    Files.writeString(adapterDir.resolve(CONFIG_FILE), toJson());
  }

  public LoraConfig withRank(int otherRank) {
    return new LoraConfig(
        otherRank, loraAlpha, targetModules, useRslora, layersToTransform, baseModelNameOrPath);
  }
}
