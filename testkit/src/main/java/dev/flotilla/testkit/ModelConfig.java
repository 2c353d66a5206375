package dev.flotilla.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The fields of a Hugging Face Llama-family {@code config.json} that decide the forward pass.
 *
 * @param ropeScaling RoPE frequency scaling; {@link RopeScaling#NONE} for none
 * @param slidingWindow the attention window in positions of Mistral and Phi-3 (every layer) and of
 *     Gemma's sliding layers; 0 for none (Gemma always has one)
 * @param layout how the file spells RoPE and the dtype (transformers 4 or 5)
 * @param gemma Gemma 2 / 3 settings; {@link GemmaSettings#NONE} for the other architectures
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
    ConfigLayout layout,
    GemmaSettings gemma) {

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
        slidingWindow == 0 || slidingWindow > 0 && slides(architecture),
        "sliding_window " + slidingWindow + " is only honoured by Mistral, Phi-3, Gemma (0: none)");
    require(
        architecture.gemma() == (gemma != GemmaSettings.NONE)
            && (!architecture.gemma() || slidingWindow > 0 && gemma.queryPreAttnScalar() > 0)
            && (architecture != Architecture.GEMMA3 || gemma.slidingWindowPattern() > 0),
        "Gemma needs its settings, a sliding window and query_pre_attn_scalar (Gemma 3 also a"
            + " sliding_window_pattern); other architectures none");
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

  private static boolean slides(Architecture architecture) {
    return architecture == Architecture.MISTRAL
        || architecture == Architecture.PHI3
        || architecture.gemma();
  }

  /** Whether the layer attends within {@link #slidingWindow()}. */
  public boolean slidingLayer(int layer) {
    if (slidingWindow == 0) {
      return false;
    }
    return switch (architecture) {
      case GEMMA2 -> layer % 2 == 0;
      case GEMMA3 -> (layer + 1) % gemma.slidingWindowPattern() != 0;
      default -> true;
    };
  }

  /** The layer's RoPE theta: Gemma 3's sliding layers have their own. */
  public double ropeTheta(int layer) {
    return architecture == Architecture.GEMMA3 && slidingLayer(layer)
        ? gemma.ropeLocalBaseFreq()
        : ropeTheta;
  }

  /** The layer's RoPE scaling: Gemma 3's sliding layers have none. */
  public RopeScaling ropeScaling(int layer) {
    return architecture == Architecture.GEMMA3 && slidingLayer(layer)
        ? RopeScaling.NONE
        : ropeScaling;
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
    JsonNode localRope = null;
    if (v5 && ropeParameters.has("full_attention")) { // Gemma 3: one object per layer type
      localRope = ropeParameters.get("sliding_attention");
      ropeParameters = ropeParameters.get("full_attention");
    }
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
        ropeScaling(v5 ? ropeParameters : json.get("rope_scaling"), json),
        slides(architecture) ? json.path("sliding_window").asInt(0) : 0,
        requiredInt(json, "vocab_size"),
        json.path("max_position_embeddings").asInt(2048),
        json.path("tie_word_embeddings").asBoolean(false),
        Dtype.fromTorchName(dtype == null || dtype.isNull() ? "float32" : dtype.asText()),
        json.path("bos_token_id").asInt(0),
        eosTokenId(json.get("eos_token_id")),
        v5 ? ConfigLayout.ROPE_PARAMETERS : ConfigLayout.TOP_LEVEL_ROPE,
        gemmaSettings(architecture, json, localRope));
  }

  private static GemmaSettings gemmaSettings(
      Architecture architecture, JsonNode json, JsonNode localRope) {
    if (!architecture.gemma()) {
      return GemmaSettings.NONE;
    }
    boolean gemma3 = architecture == Architecture.GEMMA3;
    return new GemmaSettings(
        json.path("query_pre_attn_scalar").asDouble(256),
        // absent: the config class's default (Gemma 2 caps, Gemma 3 does not); null: none
        json.has("attn_logit_softcapping")
            ? json.get("attn_logit_softcapping").asDouble(0)
            : gemma3 ? 0 : 50.0,
        json.has("final_logit_softcapping")
            ? json.get("final_logit_softcapping").asDouble(0)
            : gemma3 ? 0 : 30.0,
        gemma3 ? json.path("sliding_window_pattern").asInt(6) : 0,
        gemma3
            ? (localRope != null
                ? localRope.path("rope_theta").asDouble(10000)
                : json.path("rope_local_base_freq").asDouble(10000))
            : 0);
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
    json.put("hidden_act", architecture.gemma() ? "gelu_pytorch_tanh" : "silu");
    json.put("rms_norm_eps", rmsNormEps);
    boolean v5 = layout == ConfigLayout.ROPE_PARAMETERS;
    if (v5) {
      Map<String, Object> rope = ropeScaling.toJson();
      rope.put("rope_theta", ropeTheta);
      if (ropeScaling.type().equals("longrope")) {
        rope.put("original_max_position_embeddings", ropeScaling.originalMaxPositionEmbeddings());
      }
      if (architecture == Architecture.GEMMA3) {
        Map<String, Object> local = RopeScaling.NONE.toJson();
        local.put("rope_theta", gemma.ropeLocalBaseFreq());
        json.put("rope_parameters", Map.of("full_attention", rope, "sliding_attention", local));
      } else {
        json.put("rope_parameters", rope);
      }
    } else {
      json.put("rope_theta", ropeTheta);
      json.put("rope_scaling", ropeScaling.isNone() ? null : legacyRopeScalingJson());
      if (ropeScaling.type().equals("longrope")) { // Phi3Config keeps it at the top level
        json.put("original_max_position_embeddings", ropeScaling.originalMaxPositionEmbeddings());
      }
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
      case PHI3 -> {
        json.put("sliding_window", slidingWindow == 0 ? null : slidingWindow);
        json.put(
            "original_max_position_embeddings",
            ropeScaling.type().equals("longrope")
                ? ropeScaling.originalMaxPositionEmbeddings()
                : maxPositionEmbeddings);
        json.put("embd_pdrop", 0.0);
        json.put("resid_pdrop", 0.0);
      }
      case GEMMA2, GEMMA3 -> {
        json.put("hidden_activation", "gelu_pytorch_tanh");
        json.put("attention_bias", false);
        json.put("sliding_window", slidingWindow);
        json.put("query_pre_attn_scalar", gemma.queryPreAttnScalar());
        json.put(
            "attn_logit_softcapping",
            gemma.attnLogitSoftcapping() == 0 ? null : gemma.attnLogitSoftcapping());
        json.put(
            "final_logit_softcapping",
            gemma.finalLogitSoftcapping() == 0 ? null : gemma.finalLogitSoftcapping());
        json.put("cache_implementation", "hybrid");
        if (architecture == Architecture.GEMMA3) {
          json.put("sliding_window_pattern", gemma.slidingWindowPattern());
          if (!v5) {
            json.put("rope_local_base_freq", gemma.ropeLocalBaseFreq());
          }
        }
        if (v5) {
          List<String> types = new java.util.ArrayList<>();
          for (int layer = 0; layer < numHiddenLayers; layer++) {
            types.add(slidingLayer(layer) ? "sliding_attention" : "full_attention");
          }
          json.put("layer_types", types);
        }
      }
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
        layout,
        gemma);
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

  /**
   * A rope_scaling or rope_parameters object (null: none); longrope's original context from the
   * object or, as Phi3Config keeps it, the top level of {@code root}.
   */
  private static RopeScaling ropeScaling(JsonNode scaling, JsonNode root) {
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
      case "longrope", "su" ->
          RopeScaling.longrope(
              doubles(scaling.path("short_factor")),
              doubles(scaling.path("long_factor")),
              scaling.has("original_max_position_embeddings")
                  ? scaling.get("original_max_position_embeddings").asInt()
                  : root.path("original_max_position_embeddings").asInt());
      default -> throw new IllegalArgumentException("rope_type " + type + " is not supported");
    };
  }

  private static List<Double> doubles(JsonNode array) {
    List<Double> values = new ArrayList<>();
    array.forEach(value -> values.add(value.asDouble()));
    return values;
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
