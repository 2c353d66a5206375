package dev.flotilla.worker.scheduler;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.worker.engine.ModelInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What a PEFT {@code adapter_config.json} says beyond what the engine reports: its target modules,
 * adapted layers and base model, and from them the memory the adapter takes.
 *
 * @param rank LoRA rank {@code r}
 * @param targetModules projection names, e.g. q_proj
 * @param layers adapted layers; empty = every layer
 * @param baseModel {@code base_model_name_or_path}, empty if absent
 */
public record AdapterFiles(int rank, List<String> targetModules, List<Integer> layers, String baseModel) {

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
        return new AdapterFiles(json.path("r").asInt(0), List.copyOf(targets), List.copyOf(layers),
                json.path("base_model_name_or_path").asText(""));
    }

    /** Bytes of A [r, in] and B [out, r] in F32 for every targeted projection and adapted layer. */
    public long bytes(ModelInfo model) {
        long perLayer = 0;
        int q = model.heads() * model.headDim();
        int kv = model.kvHeads() * model.headDim();
        int h = model.hiddenSize();
        int inter = model.intermediateSize();
        for (String target : targetModules) {
            int[] inOut = switch (target) {
                case "q_proj" -> new int[] {h, q};
                case "k_proj", "v_proj" -> new int[] {h, kv};
                case "o_proj" -> new int[] {q, h};
                case "gate_proj", "up_proj" -> new int[] {h, inter};
                case "down_proj" -> new int[] {inter, h};
                default -> new int[] {0, 0};
            };
            perLayer += (long) rank * (inOut[0] + inOut[1]) * 4L;
        }
        int adaptedLayers = layers.isEmpty() ? model.layers() : layers.size();
        return perLayer * adaptedLayers;
    }
}
