package dev.flotilla.worker.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * The end-of-sequence tokens of a model: {@code eos_token_id} of config.json and
 * generation_config.json (a number or a list in either).
 */
public final class GenerationConfig {
  private static final ObjectMapper JSON = new ObjectMapper();

  private GenerationConfig() {}

  public static Set<Integer> eosTokens(Path modelDir) throws IOException {
    Set<Integer> out = new LinkedHashSet<>();
    for (String name : new String[] {"config.json", "generation_config.json"}) {
      Path file = modelDir.resolve(name);
      if (!Files.isRegularFile(file)) {
        continue;
      }
      JsonNode eos;
      try {
        eos = JSON.readTree(file.toFile()).path("eos_token_id");
      } catch (IOException e) {
        throw new IOException(file + " is not valid JSON: " + e.getMessage(), e);
      }
      if (eos.isInt()) {
        out.add(eos.asInt());
      } else if (eos.isArray()) {
        eos.forEach(n -> out.add(n.asInt()));
      }
    }
    return out;
  }
}
