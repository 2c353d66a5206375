package dev.flotilla.worker.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.worker.scheduler.Pooling;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Whether a model is an embedding model, and how it pools: the sentence-transformers files of its
 * checkpoint. {@code modules.json} lists a Pooling module whose {@code config.json} sets {@code
 * pooling_mode_lasttoken} or {@code pooling_mode_mean_tokens}; a listed Normalize module (or {@code
 * "normalize": true} in the pooling config) scales the vector to unit length. Other pooling modes,
 * and {@code include_prompt: false}, are refused by name rather than served differently.
 */
public final class EmbeddingConfig {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String POOLING_TYPE = "sentence_transformers.models.Pooling";
  private static final String NORMALIZE_TYPE = "sentence_transformers.models.Normalize";
  private static final List<String> UNSERVED_MODES =
      List.of(
          "pooling_mode_cls_token",
          "pooling_mode_max_tokens",
          "pooling_mode_mean_sqrt_len_tokens",
          "pooling_mode_weightedmean_tokens");

  private EmbeddingConfig() {}

  /**
   * The model's pooling; empty when it has no {@code modules.json} (not an embedding model).
   *
   * @throws IOException when the files are unreadable, malformed or ask for a pooling the worker
   *     does not serve (the message names the file and the mode)
   */
  public static Optional<Pooling> load(Path modelDir) throws IOException {
    Path modulesFile = modelDir.resolve("modules.json");
    if (!Files.isRegularFile(modulesFile)) {
      return Optional.empty();
    }
    JsonNode modules = read(modulesFile);
    if (!modules.isArray()) {
      throw new IOException(modulesFile + " is not a JSON array of modules");
    }
    String poolingPath = null;
    boolean normalize = false;
    for (JsonNode module : modules) {
      String type = module.path("type").asText("");
      if (type.equals(POOLING_TYPE)) {
        poolingPath = module.path("path").asText("");
      } else if (type.equals(NORMALIZE_TYPE)) {
        normalize = true;
      }
    }
    if (poolingPath == null) {
      throw new IOException(modulesFile + " lists no " + POOLING_TYPE + " module");
    }
    Path configFile = modelDir.resolve(poolingPath).resolve("config.json").normalize();
    if (!configFile.startsWith(modelDir.normalize())) {
      throw new IOException(modulesFile + ": pooling path " + poolingPath + " leaves the model");
    }
    if (!Files.isRegularFile(configFile)) {
      throw new IOException(configFile + " is missing (the pooling module's config)");
    }
    JsonNode config = read(configFile);
    List<String> modes = new ArrayList<>();
    if (config.path("pooling_mode_lasttoken").asBoolean(false)) {
      modes.add("pooling_mode_lasttoken");
    }
    if (config.path("pooling_mode_mean_tokens").asBoolean(false)) {
      modes.add("pooling_mode_mean_tokens");
    }
    for (String unserved : UNSERVED_MODES) {
      if (config.path(unserved).asBoolean(false)) {
        throw new IOException(
            configFile
                + " sets "
                + unserved
                + "; the worker pools with pooling_mode_lasttoken or pooling_mode_mean_tokens"
                + " only");
      }
    }
    if (modes.size() != 1) {
      throw new IOException(
          configFile
              + " must set exactly one of pooling_mode_lasttoken and pooling_mode_mean_tokens,"
              + " got "
              + (modes.isEmpty() ? "none" : String.join(" and ", modes)));
    }
    if (!config.path("include_prompt").asBoolean(true)) {
      // Pooling would then skip an instruction prefix whose length the request does not carry.
      throw new IOException(
          configFile + " sets include_prompt false; the worker pools every prompt token");
    }
    if (config.path("normalize").asBoolean(false)) {
      normalize = true;
    }
    Pooling.Mode mode =
        modes.get(0).equals("pooling_mode_lasttoken") ? Pooling.Mode.LAST_TOKEN : Pooling.Mode.MEAN;
    return Optional.of(new Pooling(mode, normalize));
  }

  private static JsonNode read(Path file) throws IOException {
    try {
      return JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw new IOException(file + " is not valid JSON: " + e.getMessage(), e);
    }
  }
}
