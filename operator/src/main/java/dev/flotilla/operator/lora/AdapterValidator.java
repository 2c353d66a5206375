package dev.flotilla.operator.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.api.crd.LoraAdapterSpec;
import dev.flotilla.api.crd.LoraTarget;
import dev.flotilla.operator.files.ModelFiles;
import dev.flotilla.operator.files.SafetensorsHeaders;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Checks a LoRA adapter against its base model: rank within the model's {@code maxLoraRank}, target
 * modules that a Llama-family layer has, and, when the operator can read the files ({@code file://}
 * sources), {@code adapter_config.json} and {@code adapter_model.safetensors} present with every
 * {@code lora_A} [r, in] and {@code lora_B} [out, r] matching the base's shapes from its {@code
 * config.json}. Files it cannot read are left to the worker, which checks them again when it loads
 * the adapter.
 */
public final class AdapterValidator {
  static final String CONFIG_FILE = "adapter_config.json";
  static final String WEIGHTS_FILE = "adapter_model.safetensors";
  private static final ObjectMapper JSON = new ObjectMapper();

  private AdapterValidator() {}

  /**
   * @param maxLoraRank the base deployment's engine limit
   * @param baseSource the base model's source, for its shapes when readable
   */
  public static AdapterCheck validate(LoraAdapterSpec spec, int maxLoraRank, String baseSource) {
    List<String> declared =
        spec.getTargetModules() == null
            ? null
            : spec.getTargetModules().stream().map(LoraTarget::name).toList();
    if (spec.getRank() != null && spec.getRank() > maxLoraRank) {
      return AdapterCheck.invalid(
          AdapterCheck.RANK_TOO_HIGH,
          "rank " + spec.getRank() + " exceeds the model's engine.maxLoraRank " + maxLoraRank);
    }
    Optional<Path> dir = ModelFiles.localDirectory(spec.getSource());
    if (dir.isEmpty()) {
      if (spec.getSource() != null && spec.getSource().startsWith("file://")) {
        return AdapterCheck.invalid(
            AdapterCheck.FILES_MISSING,
            "adapter directory " + spec.getSource() + " does not exist");
      }
      return new AdapterCheck(
          true,
          AdapterCheck.SPEC_CHECKED,
          "rank and target modules checked against the spec;"
              + " the files at "
              + spec.getSource()
              + " are checked by the worker when it loads them",
          spec.getRank(),
          declared);
    }
    try {
      return checkFiles(dir.get(), spec, declared, maxLoraRank, baseSource);
    } catch (IOException | RuntimeException e) {
      return AdapterCheck.invalid(
          AdapterCheck.BAD_FILES,
          "cannot read the adapter at " + spec.getSource() + ": " + e.getMessage());
    }
  }

  private static AdapterCheck checkFiles(
      Path dir, LoraAdapterSpec spec, List<String> declared, int maxLoraRank, String baseSource)
      throws IOException {
    for (String file : List.of(CONFIG_FILE, WEIGHTS_FILE)) {
      if (!Files.isRegularFile(dir.resolve(file))) {
        return AdapterCheck.invalid(
            AdapterCheck.FILES_MISSING, file + " is missing from " + spec.getSource());
      }
    }
    JsonNode config = JSON.readTree(dir.resolve(CONFIG_FILE).toFile());
    if (!"LORA".equals(config.path("peft_type").asText())) {
      return AdapterCheck.invalid(
          AdapterCheck.BAD_FILES,
          CONFIG_FILE + ": peft_type is " + config.path("peft_type") + ", not LORA");
    }
    int rank = config.path("r").asInt(0);
    if (rank < 1) {
      return AdapterCheck.invalid(
          AdapterCheck.BAD_FILES, CONFIG_FILE + ": r must be a positive integer");
    }
    List<String> targets = new ArrayList<>();
    config.path("target_modules").forEach(t -> targets.add(t.asText()));
    if (targets.isEmpty()) {
      return AdapterCheck.invalid(
          AdapterCheck.BAD_FILES, CONFIG_FILE + ": target_modules is empty");
    }
    for (String target : targets) {
      if (!ModelFiles.Shapes.MODULES.contains(target)) {
        return AdapterCheck.invalid(
            AdapterCheck.UNKNOWN_TARGET,
            "target module "
                + target
                + " is not a Llama projection (known: "
                + String.join(", ", ModelFiles.Shapes.MODULES)
                + ")");
      }
    }
    if (rank > maxLoraRank) {
      return AdapterCheck.invalid(
          AdapterCheck.RANK_TOO_HIGH,
          "rank "
              + rank
              + " in "
              + CONFIG_FILE
              + " exceeds the model's engine.maxLoraRank "
              + maxLoraRank);
    }
    if (spec.getRank() != null && spec.getRank() != rank) {
      return AdapterCheck.invalid(
          AdapterCheck.SPEC_MISMATCH,
          "spec.rank is " + spec.getRank() + " but " + CONFIG_FILE + " says " + rank);
    }
    if (declared != null && !new TreeSet<>(declared).equals(new TreeSet<>(targets))) {
      return AdapterCheck.invalid(
          AdapterCheck.SPEC_MISMATCH,
          "spec.targetModules "
              + new TreeSet<>(declared)
              + " differ from "
              + CONFIG_FILE
              + "'s "
              + new TreeSet<>(targets));
    }

    Map<String, SafetensorsHeaders.Tensor> tensors =
        SafetensorsHeaders.read(dir.resolve(WEIGHTS_FILE));
    Optional<Path> baseDir = ModelFiles.localDirectory(baseSource);
    ModelFiles.Shapes base =
        baseDir.isPresent() && Files.isRegularFile(baseDir.get().resolve("config.json"))
            ? ModelFiles.shapes(baseDir.get())
            : null;
    Set<Integer> layers = new HashSet<>();
    JsonNode layersNode = config.path("layers_to_transform");
    if (layersNode.isArray()) {
      layersNode.forEach(l -> layers.add(l.asInt()));
    } else if (layersNode.isInt()) {
      layers.add(layersNode.asInt());
    }
    int checked = 0;
    for (String name : tensors.keySet()) {
      SafetensorsHeaders.Tensor t = tensors.get(name);
      boolean isA = name.endsWith(".lora_A.weight");
      if (!isA && !name.endsWith(".lora_B.weight")) {
        continue;
      }
      String module = moduleOf(name);
      if (module == null || !targets.contains(module)) {
        return AdapterCheck.invalid(
            AdapterCheck.BAD_FILES, "tensor " + name + " is not for a target module");
      }
      if (t.shape().size() != 2) {
        return AdapterCheck.invalid(
            AdapterCheck.SHAPE_MISMATCH, name + " has shape " + t.shape() + ", not 2-D");
      }
      long rankDim = isA ? t.shape().get(0) : t.shape().get(1);
      if (rankDim != rank) {
        return AdapterCheck.invalid(
            AdapterCheck.SHAPE_MISMATCH,
            name + " has shape " + t.shape() + " but the rank is " + rank);
      }
      if (base != null) {
        int[] outIn = base.projection(module);
        long expected = isA ? outIn[1] : outIn[0];
        long actual = isA ? t.shape().get(1) : t.shape().get(0);
        if (expected != actual) {
          return AdapterCheck.invalid(
              AdapterCheck.SHAPE_MISMATCH,
              name
                  + " has shape "
                  + t.shape()
                  + " but the base model's "
                  + module
                  + " needs "
                  + (isA
                      ? "[" + rank + ", " + expected + "]"
                      : "[" + expected + ", " + rank + "]"));
        }
      }
      checked++;
    }
    if (base != null) {
      for (int layer = 0; layer < base.layers(); layer++) {
        if (!layers.isEmpty() && !layers.contains(layer)) {
          continue;
        }
        for (String module : targets) {
          String block =
              List.of("gate_proj", "up_proj", "down_proj").contains(module) ? "mlp" : "self_attn";
          for (String ab : List.of("lora_A", "lora_B")) {
            String name =
                "base_model.model.model.layers."
                    + layer
                    + "."
                    + block
                    + "."
                    + module
                    + "."
                    + ab
                    + ".weight";
            if (!tensors.containsKey(name)) {
              return AdapterCheck.invalid(
                  AdapterCheck.SHAPE_MISMATCH, WEIGHTS_FILE + " lacks " + name);
            }
          }
        }
      }
    }
    if (checked == 0) {
      return AdapterCheck.invalid(AdapterCheck.BAD_FILES, WEIGHTS_FILE + " holds no LoRA tensors");
    }
    return new AdapterCheck(
        true,
        AdapterCheck.FILES_CHECKED,
        "rank "
            + rank
            + ", "
            + targets.size()
            + " target modules, "
            + checked
            + " tensors"
            + (base == null ? "" : " matching the base model's shapes"),
        rank,
        targets);
  }

  /** {@code base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight} → {@code q_proj}. */
  static String moduleOf(String tensor) {
    String[] parts = tensor.split("\\.");
    return parts.length >= 3 ? parts[parts.length - 3] : null;
  }
}
