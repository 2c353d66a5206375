package dev.flotilla.testkit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes the sentence-transformers files that make a decoder checkpoint an embedding model, as
 * Qwen3-Embedding and e5-mistral ship them: {@code modules.json} listing the Transformer, a Pooling
 * module in {@code 1_Pooling/} and, when normalising, a Normalize module in {@code 2_Normalize/}.
 */
public final class SentenceTransformersFiles {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** The pooling modes of {@code 1_Pooling/config.json}, by their key there. */
  public enum Pooling {
    LAST_TOKEN("pooling_mode_lasttoken"),
    MEAN_TOKENS("pooling_mode_mean_tokens"),
    CLS_TOKEN("pooling_mode_cls_token"),
    MAX_TOKENS("pooling_mode_max_tokens");

    private final String key;

    Pooling(String key) {
      this.key = key;
    }

    public String key() {
      return key;
    }
  }

  private SentenceTransformersFiles() {}

  /** Writes the files into {@code modelDir} for a model of {@code hiddenSize}. */
  public static void write(Path modelDir, int hiddenSize, Pooling pooling, boolean normalize)
      throws IOException {
    ArrayNode modules = JSON.createArrayNode();
    modules.add(module(0, "0", "", "sentence_transformers.models.Transformer"));
    modules.add(module(1, "1", "1_Pooling", "sentence_transformers.models.Pooling"));
    if (normalize) {
      modules.add(module(2, "2", "2_Normalize", "sentence_transformers.models.Normalize"));
      Files.createDirectories(modelDir.resolve("2_Normalize"));
    }
    Files.createDirectories(modelDir.resolve("1_Pooling"));
    JSON.writeValue(modelDir.resolve("modules.json").toFile(), modules);
    ObjectNode config = JSON.createObjectNode();
    config.put("word_embedding_dimension", hiddenSize);
    for (Pooling p : Pooling.values()) {
      config.put(p.key(), p == pooling);
    }
    config.put("pooling_mode_mean_sqrt_len_tokens", false);
    config.put("pooling_mode_weightedmean_tokens", false);
    config.put("include_prompt", true);
    JSON.writeValue(modelDir.resolve("1_Pooling").resolve("config.json").toFile(), config);
  }

  private static ObjectNode module(int idx, String name, String path, String type) {
    ObjectNode m = JSON.createObjectNode();
    m.put("idx", idx);
    m.put("name", name);
    m.put("path", path);
    m.put("type", type);
    return m;
  }
}
