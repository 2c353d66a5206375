package dev.flotilla.worker.scheduler;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What a PEFT {@code adapter_config.json} says beyond what the engine reports: its target modules,
 * adapted layers and base model. (The memory an adapter takes comes from the engine: {@code
 * Adapter.bytes()}.)
 *
 * @param rank LoRA rank {@code r}
 * @param targetModules projection names, e.g. q_proj
 * @param layers adapted layers; empty = every layer
 * @param baseModel {@code base_model_name_or_path}, empty if absent
 */
public record AdapterFiles(
    int rank, List<String> targetModules, List<Integer> layers, String baseModel) {

  public static final String CONFIG = "adapter_config.json";
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Reads the config; a missing or malformed file is an {@link IOException} naming it. */
  public static AdapterFiles read(Path dir) throws IOException {
    Path file = dir.resolve(CONFIG);
    if (!Files.isRegularFile(file)) {
      throw new IOException(file + " does not exist");
    }
    JsonNode json;
    try {
      json = JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw new IOException(file + " is not valid JSON: " + e.getMessage(), e);
    }
    List<String> targets = new ArrayList<>();
    JsonNode t = json.path("target_modules");
    if (t.isArray()) {
      t.forEach(n -> targets.add(n.asText()));
    } else if (t.isTextual()) {
      targets.add(t.asText());
    }
    List<Integer> layers = new ArrayList<>();
    JsonNode l = json.path("layers_to_transform");
    if (l.isArray()) {
      l.forEach(n -> layers.add(n.asInt()));
    } else if (l.isInt()) {
      layers.add(l.asInt());
    }
    return new AdapterFiles(
        json.path("r").asInt(0),
        List.copyOf(targets),
        List.copyOf(layers),
        json.path("base_model_name_or_path").asText(""));
  }
}
