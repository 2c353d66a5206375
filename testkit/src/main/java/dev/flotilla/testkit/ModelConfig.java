package dev.flotilla.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The fields of a Hugging Face Llama-family {@code config.json} that decide the forward pass.
 *
 * @param ropeScalingFactor linear RoPE scaling factor; 1.0 means no {@code rope_scaling}
 */
public record ModelConfig(
    Architecture architecture,
    int hiddenSize,
    int intermediateSize,
    int numHiddenLayers,
    int numAttentionHeads,
    int numKeyValueHeads,
    int headDim,
    double rmsNormEps,
    double ropeTheta,
    double ropeScalingFactor,
    int vocabSize,
    int maxPositionEmbeddings,
    boolean tieWordEmbeddings,
    Dtype torchDtype,
    int bosTokenId,
    int eosTokenId) {

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  public ModelConfig {
    require(
        hiddenSize > 0
            && intermediateSize > 0
            && numHiddenLayers > 0
            && vocabSize > 0
            && maxPositionEmbeddings > 0,
        "sizes must be positive");
    require(
        numAttentionHeads > 0 && numKeyValueHeads > 0 && numAttentionHeads % numKeyValueHeads == 0,
        "num_attention_heads "
            + numAttentionHeads
            + " must be a multiple of num_key_value_heads "
            + numKeyValueHeads);
    require(
        headDim > 0 && headDim % 2 == 0,
        "head_dim must be positive and even for RoPE, got " + headDim);
    require(ropeScalingFactor >= 1.0, "rope_scaling factor must be >= 1, got " + ropeScalingFactor);
    require(
        bosTokenId >= 0 && bosTokenId < vocabSize && eosTokenId >= 0 && eosTokenId < vocabSize,
        "bos/eos token ids must lie in the vocabulary");
  }

  /**
   * q/k/v carry a bias (Qwen2). Llama's {@code attention_bias}, which also biases o_proj, is
   * rejected.
   */
  public boolean qkvBias() {
    return architecture.qkvBias();
  }

  /** Query heads that share one key/value head. */
  public int queriesPerKeyValueHead() {
    return numAttentionHeads / numKeyValueHeads;
  }

  public static ModelConfig read(Path configJsonOrModelDir) throws IOException {
    Path file =
        Files.isDirectory(configJsonOrModelDir)
            ? configJsonOrModelDir.resolve("config.json")
            : configJsonOrModelDir;
    return fromJson(JSON.readTree(file.toFile()));
  }

  public static ModelConfig fromJson(JsonNode json) {
    JsonNode architectures = json.path("architectures");
    require(
        architectures.isArray() && architectures.size() == 1, "architectures must name one class");
    Architecture architecture = Architecture.fromClassName(architectures.get(0).asText());
    require(
        !json.path("attention_bias").asBoolean(false) && !json.path("mlp_bias").asBoolean(false),
        "attention_bias / mlp_bias on " + architecture.className() + " is not supported");
    int hidden = requiredInt(json, "hidden_size");
    int heads = requiredInt(json, "num_attention_heads");
    JsonNode headDim = json.get("head_dim");
    return new ModelConfig(
        architecture,
        hidden,
        requiredInt(json, "intermediate_size"),
        requiredInt(json, "num_hidden_layers"),
        heads,
        json.has("num_key_value_heads") ? json.get("num_key_value_heads").asInt() : heads,
        headDim == null || headDim.isNull() ? hidden / heads : headDim.asInt(),
        json.path("rms_norm_eps").asDouble(1e-6),
        json.path("rope_theta").asDouble(10000.0),
        linearScalingFactor(json.get("rope_scaling")),
        requiredInt(json, "vocab_size"),
        json.path("max_position_embeddings").asInt(2048),
        json.path("tie_word_embeddings").asBoolean(false),
        Dtype.fromTorchName(json.path("torch_dtype").asText("float32")),
        json.path("bos_token_id").asInt(0),
        eosTokenId(json.get("eos_token_id")));
  }

  /** config.json as transformers writes it: sorted keys, two-space indent. */
  public String toJson() {
    Map<String, Object> json = new TreeMap<>();
    json.put("architectures", List.of(architecture.className()));
    json.put("model_type", architecture.modelType());
    json.put("hidden_size", hiddenSize);
    json.put("intermediate_size", intermediateSize);
    json.put("num_hidden_layers", numHiddenLayers);
    json.put("num_attention_heads", numAttentionHeads);
    json.put("num_key_value_heads", numKeyValueHeads);
    json.put("head_dim", headDim);
    json.put("hidden_act", "silu");
    json.put("rms_norm_eps", rmsNormEps);
    json.put("rope_theta", ropeTheta);
    json.put("rope_scaling", ropeScalingFactor == 1.0 ? null : ropeScalingJson());
    json.put("vocab_size", vocabSize);
    json.put("max_position_embeddings", maxPositionEmbeddings);
    json.put("tie_word_embeddings", tieWordEmbeddings);
    json.put("torch_dtype", torchDtype.torchName());
    json.put("bos_token_id", bosTokenId);
    json.put("eos_token_id", eosTokenId);
    json.put("initializer_range", 0.02);
    json.put("use_cache", true);
    json.put("attention_dropout", 0.0);
    switch (architecture) {
      case LLAMA -> {
        json.put("attention_bias", false);
        json.put("mlp_bias", false);
        json.put("pretraining_tp", 1);
      }
      case MISTRAL -> json.put("sliding_window", null);
      case QWEN2 -> {
        json.put("use_sliding_window", false);
        json.put("sliding_window", null);
        json.put("max_window_layers", numHiddenLayers);
      }
    }
    try {
      return JSON.writeValueAsString(json) + "\n";
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  public void write(Path modelDir) throws IOException {
    Files.writeString(modelDir.resolve("config.json"), toJson());
  }

  public ModelConfig withTorchDtype(Dtype dtype) {
    return new ModelConfig(
        architecture,
        hiddenSize,
        intermediateSize,
        numHiddenLayers,
        numAttentionHeads,
        numKeyValueHeads,
        headDim,
        rmsNormEps,
        ropeTheta,
        ropeScalingFactor,
        vocabSize,
        maxPositionEmbeddings,
        tieWordEmbeddings,
        dtype,
        bosTokenId,
        eosTokenId);
  }

  /**
   * Both spellings: transformers reads {@code rope_type} today and {@code type} in older releases.
   */
  private Map<String, Object> ropeScalingJson() {
    Map<String, Object> scaling = new LinkedHashMap<>();
    scaling.put("rope_type", "linear");
    scaling.put("type", "linear");
    scaling.put("factor", ropeScalingFactor);
    return scaling;
  }

  private static double linearScalingFactor(JsonNode scaling) {
    if (scaling == null || scaling.isNull()) {
      return 1.0;
    }
    String type =
        scaling.has("rope_type")
            ? scaling.get("rope_type").asText()
            : scaling.path("type").asText();
    if (type.equals("default")) {
      return 1.0;
    }
    require(type.equals("linear"), "only linear rope_scaling is supported, got " + type);
    return scaling.path("factor").asDouble(1.0);
  }

  /** Some configs list several end tokens; the first is the one generation stops on by default. */
  private static int eosTokenId(JsonNode eos) {
    if (eos == null || eos.isNull()) {
      return 0;
    }
    return eos.isArray() ? eos.get(0).asInt() : eos.asInt();
  }

  private static int requiredInt(JsonNode json, String field) {
    require(json.hasNonNull(field), "config.json lacks " + field);
    return json.get(field).asInt();
  }

  private static void require(boolean condition, String message) {
    if (!condition) {
      throw new IllegalArgumentException(message);
    }
  }
}
