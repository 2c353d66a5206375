package dev.flotilla.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

class ModelConfigTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void writtenConfigParsesBackToTheSameRecord() throws Exception {
    for (Architecture architecture : Architecture.values()) {
      ModelConfig config =
          TinyModelGenerator.tiny()
              .architecture(architecture)
              .ropeScalingFactor(4.0)
              .tieWordEmbeddings(true)
              .dtype(Dtype.BF16)
              .build()
              .config();
      assertThat(ModelConfig.fromJson(JSON.readTree(config.toJson()))).isEqualTo(config);
    }
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
    assertThat(config.ropeScalingFactor()).isEqualTo(3.0);
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
}
