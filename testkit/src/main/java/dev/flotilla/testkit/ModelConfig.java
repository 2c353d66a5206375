package dev.flotilla.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The fields of a Hugging Face Llama-family {@code config.json} that decide the forward pass.
 *
 * @param ropeScaling RoPE frequency scaling; {@link RopeScaling#NONE} for none
 * @param slidingWindow Mistral's attention window in positions; 0 for none
 * @param layout how the file spells RoPE and the dtype (transformers 4 or 5)
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
    RopeScaling ropeScaling,
    int slidingWindow,
    int vocabSize,
    int maxPositionEmbeddings,
    boolean tieWordEmbeddings,
    Dtype torchDtype,
    int bosTokenId,
    int eosTokenId,
    ConfigLayout layout) {

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
    require(ropeScaling != null && layout != null, "ropeScaling and layout must be set");
    require(
        slidingWindow == 0 || slidingWindow > 0 && architecture == Architecture.MISTRAL,
        "sliding_window " + slidingWindow + " is only honoured by Mistral (0: none)");
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
    JsonNode ropeParameters = json.get("rope_parameters");
    boolean v5 = ropeParameters != null && !ropeParameters.isNull();
    JsonNode rope = v5 ? ropeParameters : json;
    JsonNode dtype = json.hasNonNull("dtype") ? json.get("dtype") : json.get("torch_dtype");
    require(
        !json.path("use_sliding_window").asBoolean(false),
        "use_sliding_window on " + architecture.className() + " is not supported");
    return new ModelConfig(
        architecture,
        hidden,
        requiredInt(json, "intermediate_size"),
        requiredInt(json, "num_hidden_layers"),
        heads,
        json.has("num_key_value_heads") ? json.get("num_key_value_heads").asInt() : heads,
        headDim == null || headDim.isNull() ? hidden / heads : headDim.asInt(),
        json.path("rms_norm_eps").asDouble(1e-6),
        rope.path("rope_theta").asDouble(10000.0),
        ropeScaling(v5 ? ropeParameters : json.get("rope_scaling")),
        architecture == Architecture.MISTRAL ? json.path("sliding_window").asInt(0) : 0,
        requiredInt(json, "vocab_size"),
        json.path("max_position_embeddings").asInt(2048),
        json.path("tie_word_embeddings").asBoolean(false),
        Dtype.fromTorchName(dtype == null || dtype.isNull() ? "float32" : dtype.asText()),
        json.path("bos_token_id").asInt(0),
        eosTokenId(json.get("eos_token_id")),
        v5 ? ConfigLayout.ROPE_PARAMETERS : ConfigLayout.TOP_LEVEL_ROPE);
  }

  /** config.json as transformers writes it in this layout: sorted keys, two-space indent. */
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
    boolean v5 = layout == ConfigLayout.ROPE_PARAMETERS;
    if (v5) {
      Map<String, Object> rope = ropeScaling.toJson();
      rope.put("rope_theta", ropeTheta);
      json.put("rope_parameters", rope);
    } else {
      json.put("rope_theta", ropeTheta);
      json.put("rope_scaling", ropeScaling.isNone() ? null : legacyRopeScalingJson());
    }
    json.put("vocab_size", vocabSize);
    json.put("max_position_embeddings", maxPositionEmbeddings);
    json.put("tie_word_embeddings", tieWordEmbeddings);
    json.put(v5 ? "dtype" : "torch_dtype", torchDtype.torchName());
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
      case MISTRAL -> json.put("sliding_window", slidingWindow == 0 ? null : slidingWindow);
      case QWEN2, QWEN3 -> {
        json.put("use_sliding_window", false);
        json.put("sliding_window", null);
        json.put("max_window_layers", numHiddenLayers);
        if (architecture == Architecture.QWEN3) {
          json.put("attention_bias", false);
        }
        if (v5) {
          json.put("layer_types", Collections.nCopies(numHiddenLayers, "full_attention"));
        }
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
    return with(dtype, layout);
  }

  /** The same model, its config.json spelled as {@code layout} says. */
  public ModelConfig withLayout(ConfigLayout layout) {
    return with(torchDtype, layout);
  }

  private ModelConfig with(Dtype dtype, ConfigLayout layout) {
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
        ropeScaling,
        slidingWindow,
        vocabSize,
        maxPositionEmbeddings,
        tieWordEmbeddings,
        dtype,
        bosTokenId,
        eosTokenId,
        layout);
  }

  /**
   * Both spellings: transformers 4 reads {@code rope_type} in its later releases and {@code type}
   * in older ones.
   */
  private Map<String, Object> legacyRopeScalingJson() {
    Map<String, Object> scaling = new LinkedHashMap<>(ropeScaling.toJson());
    scaling.put("type", ropeScaling.type());
    return scaling;
  }

  /** A rope_scaling or rope_parameters object (null: none). */
  private static RopeScaling ropeScaling(JsonNode scaling) {
    if (scaling == null || scaling.isNull()) {
      return RopeScaling.NONE;
    }
    String type =
        scaling.has("rope_type")
            ? scaling.get("rope_type").asText()
            : scaling.path("type").asText();
    return switch (type) {
      case "default" -> RopeScaling.NONE;
      case "linear" -> RopeScaling.linear(scaling.path("factor").asDouble(1.0));
      case "llama3" ->
          RopeScaling.llama3(
              scaling.path("factor").asDouble(),
              scaling.path("low_freq_factor").asDouble(),
              scaling.path("high_freq_factor").asDouble(),
              scaling.path("original_max_position_embeddings").asInt());
      default -> throw new IllegalArgumentException("rope_type " + type + " is not supported");
    };
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
