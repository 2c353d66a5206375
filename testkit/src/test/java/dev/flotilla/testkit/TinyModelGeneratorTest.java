package dev.flotilla.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TinyModelGeneratorTest {

  @TempDir Path dir;

  @Test
  void tinyPresetHasTheDocumentedShape() {
    TinyModelGenerator generator = TinyModelGenerator.tiny().build();
    ModelConfig config = generator.config();
    assertThat(config.architecture()).isEqualTo(Architecture.LLAMA);
    assertThat(config.hiddenSize()).isEqualTo(128);
    assertThat(config.intermediateSize()).isEqualTo(384);
    assertThat(config.numHiddenLayers()).isEqualTo(4);
    assertThat(config.numAttentionHeads()).isEqualTo(4);
    assertThat(config.numKeyValueHeads()).isEqualTo(2);
    assertThat(config.headDim()).isEqualTo(32);
    assertThat(config.vocabSize()).isEqualTo(1024);
    assertThat(config.torchDtype()).isEqualTo(Dtype.F32);
    assertThat(generator.parameterCount()).isBetween(1_000_000L, 1_100_000L);
  }

  @Test
  void mediumPresetIsAFewHundredMillionParameters() {
    TinyModelGenerator generator = TinyModelGenerator.medium().build();
    assertThat(generator.parameterCount()).isBetween(100_000_000L, 300_000_000L);
    assertThat(generator.config().torchDtype()).isEqualTo(Dtype.BF16);
  }

  @Test
  void sameSeedGivesByteIdenticalFilesAndAnotherSeedDifferentWeights() throws IOException {
    TinyModelGenerator.tiny().seed(5).generate(dir.resolve("a"));
    TinyModelGenerator.tiny().seed(5).generate(dir.resolve("b"));
    TinyModelGenerator.tiny().seed(6).generate(dir.resolve("c"));

    for (String file : fileNames(dir.resolve("a"))) {
      assertThat(Files.readAllBytes(dir.resolve("b").resolve(file)))
          .as(file)
          .isEqualTo(Files.readAllBytes(dir.resolve("a").resolve(file)));
    }
    assertThat(Files.readAllBytes(dir.resolve("c/model.safetensors")))
        .isNotEqualTo(Files.readAllBytes(dir.resolve("a/model.safetensors")));
    assertThat(Files.readString(dir.resolve("c/config.json")))
        .isEqualTo(Files.readString(dir.resolve("a/config.json")));
  }

  @Test
  void writesTheHuggingFaceFilesWithLlamaTensorNamesAndShapes() throws IOException {
    GeneratedModel model = TinyModelGenerator.tiny().generate(dir);
    assertThat(fileNames(dir))
        .containsExactlyInAnyOrder(
            "config.json",
            "generation_config.json",
            "model.safetensors",
            "tokenizer.json",
            "tokenizer_config.json");
    assertThat(ModelConfig.read(dir)).isEqualTo(model.config());
    try (SafetensorsReader reader = SafetensorsReader.open(dir.resolve("model.safetensors"))) {
      assertThat(reader.metadata()).containsEntry("format", "pt");
      assertThat(reader.info("model.embed_tokens.weight").dims()).containsExactly(1024, 128);
      assertThat(reader.info("model.layers.0.self_attn.q_proj.weight").dims())
          .containsExactly(128, 128);
      assertThat(reader.info("model.layers.0.self_attn.k_proj.weight").dims())
          .containsExactly(64, 128);
      assertThat(reader.info("model.layers.0.self_attn.v_proj.weight").dims())
          .containsExactly(64, 128);
      assertThat(reader.info("model.layers.0.self_attn.o_proj.weight").dims())
          .containsExactly(128, 128);
      assertThat(reader.info("model.layers.3.mlp.gate_proj.weight").dims())
          .containsExactly(384, 128);
      assertThat(reader.info("model.layers.3.mlp.up_proj.weight").dims()).containsExactly(384, 128);
      assertThat(reader.info("model.layers.3.mlp.down_proj.weight").dims())
          .containsExactly(128, 384);
      assertThat(reader.info("model.layers.2.input_layernorm.weight").dims()).containsExactly(128);
      assertThat(reader.info("model.layers.2.post_attention_layernorm.weight").dims())
          .containsExactly(128);
      assertThat(reader.info("model.norm.weight").dims()).containsExactly(128);
      assertThat(reader.info("lm_head.weight").dims()).containsExactly(1024, 128);
      // 1 embedding + 4 layers x (2 norms + 7 projections) + final norm + lm_head
      assertThat(reader.tensors()).hasSize(1 + 4 * 9 + 2);
      assertThat(reader.tensors().keySet()).noneMatch(name -> name.endsWith(".bias"));
      assertThat(reader.tensors().values()).allMatch(t -> t.dtype() == Dtype.F32);
    }
    assertThat(model.weightFiles()).containsExactly(dir.resolve("model.safetensors"));
  }

  @Test
  void qwen2AddsQkvBiasesAndTiedEmbeddingsDropLmHead() throws IOException {
    TinyModelGenerator.tiny()
        .architecture(Architecture.QWEN2)
        .tieWordEmbeddings(true)
        .dtype(Dtype.F16)
        .generate(dir);
    try (SafetensorsReader reader = SafetensorsReader.open(dir.resolve("model.safetensors"))) {
      assertThat(reader.info("model.layers.1.self_attn.q_proj.bias").dims()).containsExactly(128);
      assertThat(reader.info("model.layers.1.self_attn.k_proj.bias").dims()).containsExactly(64);
      assertThat(reader.info("model.layers.1.self_attn.v_proj.bias").dims()).containsExactly(64);
      assertThat(reader.tensors())
          .doesNotContainKeys("model.layers.1.self_attn.o_proj.bias", "lm_head.weight");
      assertThat(reader.tensors().values()).allMatch(t -> t.dtype() == Dtype.F16);
    }
  }

  @Test
  void weightsAreScaledForAWellConditionedNetwork() throws IOException {
    TinyModelGenerator.tiny().generate(dir);
    try (SafetensorsReader reader = SafetensorsReader.open(dir.resolve("model.safetensors"))) {
      double[] q = reader.readDoubles("model.layers.0.self_attn.q_proj.weight");
      assertThat(std(q)).isCloseTo(1 / Math.sqrt(128), within(0.01));
      double[] down = reader.readDoubles("model.layers.0.mlp.down_proj.weight");
      assertThat(std(down)).isCloseTo(1 / Math.sqrt(384), within(0.01));
      double[] norm = reader.readDoubles("model.norm.weight");
      assertThat(Arrays.stream(norm)).allMatch(w -> w > 0.7 && w < 1.3);
      assertThat(std(norm))
          .isGreaterThan(0.01); // not all exactly 1: a kernel ignoring the weight shows
    }
  }

  @Test
  void shardedModelHasAConsistentIndexAndTheSameTensorsAsOneFile() throws IOException {
    GeneratedModel single =
        TinyModelGenerator.tiny().seed(9).dtype(Dtype.BF16).generate(dir.resolve("single"));
    GeneratedModel sharded =
        TinyModelGenerator.tiny()
            .seed(9)
            .dtype(Dtype.BF16)
            .shards(3)
            .generate(dir.resolve("sharded"));

    assertThat(sharded.weightFiles())
        .extracting(p -> p.getFileName().toString())
        .containsExactly(
            "model-00001-of-00003.safetensors",
            "model-00002-of-00003.safetensors",
            "model-00003-of-00003.safetensors");
    JsonNode index =
        new ObjectMapper().readTree(dir.resolve("sharded/model.safetensors.index.json").toFile());
    JsonNode weightMap = index.get("weight_map");

    long totalBytes = 0;
    Set<String> seen = new HashSet<>();
    for (Path shard : sharded.weightFiles()) {
      try (SafetensorsReader reader = SafetensorsReader.open(shard)) {
        assertThat(reader.tensors()).isNotEmpty();
        for (TensorInfo info : reader.tensors().values()) {
          assertThat(weightMap.get(info.name()).asText()).isEqualTo(shard.getFileName().toString());
          assertThat(seen.add(info.name())).as("tensor in one shard only: " + info.name()).isTrue();
          totalBytes += info.dataEnd() - info.dataBegin();
        }
      }
    }
    assertThat(weightMap.size()).isEqualTo(seen.size());
    assertThat(index.get("metadata").get("total_size").asLong()).isEqualTo(totalBytes);

    try (ModelWeights one = ModelWeights.open(single.directory());
        ModelWeights many = ModelWeights.open(sharded.directory())) {
      assertThat(many.names()).containsExactlyInAnyOrderElementsOf(one.names());
      for (String name : one.names()) {
        assertThat(many.readDoubles(name)).as(name).isEqualTo(one.readDoubles(name));
      }
    }
  }

  @Test
  void storedDtypeIsTheRoundedFloat32Value() throws IOException {
    TinyModelGenerator.tiny().seed(4).generate(dir.resolve("f32"));
    TinyModelGenerator.tiny().seed(4).dtype(Dtype.BF16).generate(dir.resolve("bf16"));
    TinyModelGenerator.tiny().seed(4).dtype(Dtype.F16).generate(dir.resolve("f16"));
    String name = "model.layers.0.mlp.up_proj.weight";
    try (ModelWeights f32 = ModelWeights.open(dir.resolve("f32"));
        ModelWeights bf16 = ModelWeights.open(dir.resolve("bf16"));
        ModelWeights f16 = ModelWeights.open(dir.resolve("f16"))) {
      double[] exact = f32.readDoubles(name);
      assertThat(bf16.readDoubles(name))
          .isEqualTo(Arrays.stream(exact).map(v -> HalfFloats.roundTo(Dtype.BF16, v)).toArray());
      assertThat(f16.readDoubles(name))
          .isEqualTo(Arrays.stream(exact).map(v -> HalfFloats.roundTo(Dtype.F16, v)).toArray());
    }
  }

  private static List<String> fileNames(Path directory) throws IOException {
    try (Stream<Path> files = Files.list(directory)) {
      return new ArrayList<>(files.map(p -> p.getFileName().toString()).sorted().toList());
    }
  }

  private static double std(double[] values) {
    double mean = 0;
    for (double v : values) {
      mean += v;
    }
    mean /= values.length;
    double variance = 0;
    for (double v : values) {
      variance += (v - mean) * (v - mean);
    }
    return Math.sqrt(variance / values.length);
  }
}
