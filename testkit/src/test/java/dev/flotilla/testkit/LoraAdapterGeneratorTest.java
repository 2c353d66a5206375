package dev.flotilla.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class LoraAdapterGeneratorTest {

  private static final ModelConfig BASE = TinyModelGenerator.tiny().build().config();

  @TempDir Path dir;

  @Test
  void adapterConfigIsWhatPeftWrites() throws IOException {
    LoraAdapterGenerator.forBase(BASE)
        .rank(4)
        .alpha(8)
        .useRslora(true)
        .targets(Projection.Q_PROJ, Projection.DOWN_PROJ)
        .baseModelNameOrPath("flotilla/tiny")
        .generate(dir);
    JsonNode json = new ObjectMapper().readTree(dir.resolve("adapter_config.json").toFile());
    assertThat(json.get("peft_type").asText()).isEqualTo("LORA");
    assertThat(json.get("task_type").asText()).isEqualTo("CAUSAL_LM");
    assertThat(json.get("r").asInt()).isEqualTo(4);
    assertThat(json.get("lora_alpha").isIntegralNumber()).isTrue();
    assertThat(json.get("lora_alpha").asInt()).isEqualTo(8);
    assertThat(json.get("use_rslora").asBoolean()).isTrue();
    assertThat(json.get("base_model_name_or_path").asText()).isEqualTo("flotilla/tiny");
    assertThat(json.get("target_modules"))
        .extracting(JsonNode::asText)
        .containsExactly("q_proj", "down_proj");
    LoraConfig config = LoraConfig.read(dir);
    assertThat(config.scale()).isEqualTo(8 / Math.sqrt(4));
    assertThat(config.targetModules()).containsExactly(Projection.Q_PROJ, Projection.DOWN_PROJ);
  }

  @Test
  void tensorsHavePeftNamesAndShapesForEveryAdaptedLayer() throws IOException {
    GeneratedAdapter adapter =
        LoraAdapterGenerator.forBase(BASE)
            .rank(8)
            .targets(
                Projection.K_PROJ, Projection.O_PROJ, Projection.GATE_PROJ, Projection.DOWN_PROJ)
            .layers(1, 3)
            .dtype(Dtype.BF16)
            .generate(dir);
    try (SafetensorsReader reader = SafetensorsReader.open(adapter.weightsFile())) {
      assertThat(reader.tensors()).hasSize(2 * 4 * 2);
      assertThat(
              reader.info("base_model.model.model.layers.1.self_attn.k_proj.lora_A.weight").dims())
          .containsExactly(8, 128);
      assertThat(
              reader.info("base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight").dims())
          .containsExactly(64, 8);
      assertThat(
              reader.info("base_model.model.model.layers.3.self_attn.o_proj.lora_A.weight").dims())
          .containsExactly(8, 128);
      assertThat(reader.info("base_model.model.model.layers.3.mlp.gate_proj.lora_B.weight").dims())
          .containsExactly(384, 8);
      assertThat(reader.info("base_model.model.model.layers.3.mlp.down_proj.lora_A.weight").dims())
          .containsExactly(8, 384);
      assertThat(reader.info("base_model.model.model.layers.3.mlp.down_proj.lora_B.weight").dims())
          .containsExactly(128, 8);
      assertThat(reader.tensors().keySet())
          .noneMatch(name -> name.contains("layers.0.") || name.contains("layers.2."));
      assertThat(reader.tensors().values()).allMatch(t -> t.dtype() == Dtype.BF16);
      assertThat(
              Arrays.stream(
                  reader.readDoubles(
                      "base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight")))
          .as("B is non-zero so the adapter changes outputs")
          .anyMatch(v -> v != 0);
    }
    assertThat(LoraConfig.read(dir).layersToTransform()).containsExactly(1, 3);
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 256})
  void anyRankFromOneTo256(int rank) throws IOException {
    GeneratedAdapter adapter =
        LoraAdapterGenerator.forBase(BASE).rank(rank).dtype(Dtype.F16).generate(dir);
    try (SafetensorsReader reader = SafetensorsReader.open(adapter.weightsFile())) {
      assertThat(reader.info(LoraConfig.loraAName(Projection.V_PROJ, 0)).dims())
          .containsExactly(rank, 128);
      assertThat(reader.info(LoraConfig.loraBName(Projection.V_PROJ, 0)).dims())
          .containsExactly(64, rank);
    }
    assertThatThrownBy(() -> LoraAdapterGenerator.forBase(BASE).rank(257))
        .hasMessageContaining("1..256");
    assertThatThrownBy(() -> LoraAdapterGenerator.forBase(BASE).rank(0))
        .hasMessageContaining("1..256");
  }

  @Test
  void sameSeedGivesIdenticalFilesAndAnotherSeedDifferentWeights() throws IOException {
    LoraAdapterGenerator.forBase(BASE).seed(3).generate(dir.resolve("a"));
    LoraAdapterGenerator.forBase(BASE).seed(3).generate(dir.resolve("b"));
    LoraAdapterGenerator.forBase(BASE).seed(4).generate(dir.resolve("c"));
    for (String file : new String[] {"adapter_config.json", "adapter_model.safetensors"}) {
      assertThat(Files.readAllBytes(dir.resolve("b").resolve(file)))
          .isEqualTo(Files.readAllBytes(dir.resolve("a").resolve(file)));
    }
    assertThat(Files.readAllBytes(dir.resolve("c/adapter_model.safetensors")))
        .isNotEqualTo(Files.readAllBytes(dir.resolve("a/adapter_model.safetensors")));
  }

  @Test
  void zeroBWritesAllZeroUpProjections() throws IOException {
    GeneratedAdapter adapter = LoraAdapterGenerator.forBase(BASE).zeroB(true).generate(dir);
    try (SafetensorsReader reader = SafetensorsReader.open(adapter.weightsFile())) {
      assertThat(reader.readDoubles(LoraConfig.loraBName(Projection.Q_PROJ, 2))).containsOnly(0.0);
      assertThat(Arrays.stream(reader.readDoubles(LoraConfig.loraAName(Projection.Q_PROJ, 2))))
          .anyMatch(v -> v != 0);
    }
  }

  @Test
  void forBaseDirectoryReadsTheConfigAndRecordsThePath() throws IOException {
    GeneratedModel model =
        TinyModelGenerator.tiny().numHiddenLayers(2).generate(dir.resolve("base"));
    GeneratedAdapter adapter =
        LoraAdapterGenerator.forBase(model.directory()).generate(dir.resolve("adapter"));
    assertThat(adapter.config().baseModelNameOrPath()).isEqualTo(model.directory().toString());
    try (SafetensorsReader reader = SafetensorsReader.open(adapter.weightsFile())) {
      assertThat(reader.tensors()).hasSize(2 * 2 * 2); // 2 layers x {q, v} x {A, B}
    }
    assertThatThrownBy(
            () -> LoraAdapterGenerator.forBase(model.config()).layers(2).generate(dir.resolve("x")))
        .hasMessageContaining("layer 2");
  }
}
