package dev.flotilla.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

class ModelConfigTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final RopeScaling LLAMA3_SCALING = RopeScaling.llama3(8.0, 1.0, 4.0, 64);
  private static final RopeScaling LONGROPE_SCALING =
      RopeScaling.longrope(List.of(1.0, 1.25), List.of(2.0, 7.5), 16);

  @Test
  void writtenConfigParsesBackToTheSameRecord() throws Exception {
    for (ConfigLayout layout : ConfigLayout.values()) {
      for (Architecture architecture : Architecture.values()) {
        for (RopeScaling scaling :
            List.of(RopeScaling.NONE, RopeScaling.linear(4.0), LLAMA3_SCALING, LONGROPE_SCALING)) {
          ModelConfig config =
              TinyModelGenerator.tiny()
                  .architecture(architecture)
                  .ropeScaling(scaling)
                  .slidingWindow(architecture == Architecture.MISTRAL ? 7 : 0)
                  .layout(layout)
                  .tieWordEmbeddings(true)
                  .dtype(Dtype.BF16)
                  .build()
                  .config();
          assertThat(ModelConfig.fromJson(JSON.readTree(config.toJson()))).isEqualTo(config);
        }
      }
    }
  }

  @Test
  void ropeParametersLayoutIsTheOneTransformers5Writes() throws Exception {
    ModelConfig config =
        TinyModelGenerator.tiny()
            .architecture(Architecture.QWEN3)
            .ropeTheta(500000)
            .ropeScaling(LLAMA3_SCALING)
            .layout(ConfigLayout.ROPE_PARAMETERS)
            .build()
            .config();
    JsonNode json = JSON.readTree(config.toJson());
    assertThat(json.has("rope_theta")).isFalse();
    assertThat(json.has("rope_scaling")).isFalse();
    assertThat(json.has("torch_dtype")).isFalse();
    assertThat(json.get("dtype").asText()).isEqualTo("float32");
    JsonNode rope = json.get("rope_parameters");
    assertThat(rope.get("rope_type").asText()).isEqualTo("llama3");
    assertThat(rope.get("rope_theta").asDouble()).isEqualTo(500000.0);
    assertThat(rope.get("factor").asDouble()).isEqualTo(8.0);
    assertThat(rope.get("original_max_position_embeddings").asInt()).isEqualTo(64);
    assertThat(json.get("layer_types")).hasSize(config.numHiddenLayers());
    // the same model in the transformers 4 layout
    JsonNode legacy = JSON.readTree(config.withLayout(ConfigLayout.TOP_LEVEL_ROPE).toJson());
    assertThat(legacy.get("rope_theta").asDouble()).isEqualTo(500000.0);
    assertThat(legacy.get("rope_scaling").get("rope_type").asText()).isEqualTo("llama3");
    assertThat(legacy.has("rope_parameters")).isFalse();
  }

  @Test
  void configCarriesTheHuggingFaceFieldNames() throws Exception {
    ModelConfig config =
        TinyModelGenerator.tiny()
            .architecture(Architecture.QWEN2)
            .ropeScalingFactor(2.0)
            .build()
            .config();
    JsonNode json = JSON.readTree(config.toJson());
    assertThat(json.get("architectures").get(0).asText()).isEqualTo("Qwen2ForCausalLM");
    assertThat(json.get("model_type").asText()).isEqualTo("qwen2");
    assertThat(json.get("num_key_value_heads").asInt()).isEqualTo(2);
    assertThat(json.get("head_dim").asInt()).isEqualTo(32);
    assertThat(json.get("rope_scaling").get("rope_type").asText()).isEqualTo("linear");
    assertThat(json.get("rope_scaling").get("type").asText()).isEqualTo("linear");
    assertThat(json.get("rope_scaling").get("factor").asDouble()).isEqualTo(2.0);
    assertThat(json.get("torch_dtype").asText()).isEqualTo("float32");
    assertThat(json.get("tie_word_embeddings").asBoolean()).isFalse();
  }

  @Test
  void missingOptionalFieldsTakeTransformersDefaults() throws Exception {
    ModelConfig config =
        ModelConfig.fromJson(
            JSON.readTree(
                """
                {"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
                 "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 300,
                 "rope_scaling": {"type": "linear", "factor": 3.0}, "eos_token_id": [2, 7]}
                """));
    assertThat(config.numKeyValueHeads()).isEqualTo(4);
    assertThat(config.headDim()).isEqualTo(16);
    assertThat(config.ropeTheta()).isEqualTo(10000.0);
    assertThat(config.ropeScaling()).isEqualTo(RopeScaling.linear(3.0));
    assertThat(config.layout()).isEqualTo(ConfigLayout.TOP_LEVEL_ROPE);
    assertThat(config.eosTokenId()).isEqualTo(2);
    assertThat(config.qkvBias()).isFalse();
  }

  @Test
  void unsupportedSettingsAreRefusedByName() {
    assertThatThrownBy(
            () ->
                ModelConfig.fromJson(
                    JSON.readTree(
                        """
                {"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
                 "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 300,
                 "rope_scaling": {"rope_type": "yarn", "factor": 4.0}}
                """)))
        .hasMessageContaining("yarn");
    assertThatThrownBy(
            () ->
                ModelConfig.fromJson(
                    JSON.readTree(
                        """
                {"architectures": ["GPT2LMHeadModel"], "hidden_size": 64}
                """)))
        .hasMessageContaining("GPT2LMHeadModel");
    assertThatThrownBy(
            () -> TinyModelGenerator.tiny().numAttentionHeads(4).numKeyValueHeads(3).build())
        .hasMessageContaining("multiple of num_key_value_heads");
  }

  @Test
  void longropeKeepsItsOriginalContextWhereEachLayoutsReaderLooks() throws Exception {
    ModelConfig config =
        TinyModelGenerator.tiny()
            .architecture(Architecture.PHI3)
            .ropeScaling(LONGROPE_SCALING)
            .build()
            .config();
    JsonNode legacy = JSON.readTree(config.toJson());
    assertThat(legacy.get("original_max_position_embeddings").asInt()).isEqualTo(16);
    assertThat(legacy.get("rope_scaling").get("type").asText()).isEqualTo("longrope");
    assertThat(legacy.get("rope_scaling").get("long_factor").get(1).asDouble()).isEqualTo(7.5);
    JsonNode v5 =
        JSON.readTree(config.withLayout(ConfigLayout.ROPE_PARAMETERS).toJson())
            .get("rope_parameters");
    assertThat(v5.get("original_max_position_embeddings").asInt()).isEqualTo(16);
    assertThat(v5.get("short_factor").get(1).asDouble()).isEqualTo(1.25);
  }

  @Test
  void longropeTablesMustMatchInLength() {
    assertThatThrownBy(() -> RopeScaling.longrope(List.of(1.0), List.of(1.0, 2.0), 16))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("short_factor and long_factor");
  }
}
