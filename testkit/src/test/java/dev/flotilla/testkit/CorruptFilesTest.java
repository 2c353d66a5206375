package dev.flotilla.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CorruptFilesTest {

  @TempDir Path dir;

  private ReferenceModel base;
  private GeneratedAdapter adapter;

  @BeforeEach
  void generate() throws IOException {
    GeneratedModel model =
        TinyModelGenerator.tiny().numHiddenLayers(2).generate(dir.resolve("base"));
    base = ReferenceModel.load(model.directory());
    adapter = LoraAdapterGenerator.forBase(model.config()).rank(4).generate(dir.resolve("adapter"));
  }

  @Test
  void wrongRankInConfigKeepsTheTensorsAndChangesOnlyR() throws IOException {
    Path broken = CorruptFiles.wrongRankInConfig(adapter.directory(), dir.resolve("rank"), 16);
    assertThat(LoraConfig.read(broken)).isEqualTo(adapter.config().withRank(16));
    assertThat(Files.readAllBytes(broken.resolve("adapter_model.safetensors")))
        .isEqualTo(Files.readAllBytes(adapter.weightsFile()));
    assertThatThrownBy(() -> base.withAdapter(broken)).hasMessageContaining("expected [16, 128]");
  }

  @Test
  void missingTargetTensorDropsOneLoraB() throws IOException {
    Path broken = CorruptFiles.missingTargetTensor(adapter.directory(), dir.resolve("missing"));
    try (SafetensorsReader reader =
        SafetensorsReader.open(broken.resolve("adapter_model.safetensors"))) {
      assertThat(reader.tensors()).hasSize(2 * 2 * 2 - 1);
      assertThat(reader.tensors()).doesNotContainKey(LoraConfig.loraBName(Projection.Q_PROJ, 0));
    }
    assertThatThrownBy(() -> base.withAdapter(broken))
        .hasMessageContaining("no tensor")
        .hasMessageContaining("lora_B");
  }

  @Test
  void shapeMismatchWidensOneLoraA() throws IOException {
    Path broken = CorruptFiles.shapeMismatch(adapter.directory(), dir.resolve("shape"));
    try (SafetensorsReader reader =
        SafetensorsReader.open(broken.resolve("adapter_model.safetensors"))) {
      assertThat(reader.info(LoraConfig.loraAName(Projection.Q_PROJ, 0)).dims())
          .containsExactly(4, 129);
    }
    assertThatThrownBy(() -> base.withAdapter(broken)).hasMessageContaining("has shape [4, 129]");
  }

  @Test
  void headerCorruptionsKeepTheSourceIntact() throws IOException {
    byte[] before = Files.readAllBytes(adapter.weightsFile());
    Path truncated =
        CorruptFiles.truncatedHeader(adapter.weightsFile(), dir.resolve("t.safetensors"));
    Path longHeader =
        CorruptFiles.headerLengthPastEof(adapter.weightsFile(), dir.resolve("h.safetensors"));
    Path offsets =
        CorruptFiles.dataOffsetsPastEof(adapter.weightsFile(), dir.resolve("o.safetensors"));

    assertThat(Files.readAllBytes(adapter.weightsFile())).isEqualTo(before);
    assertThat(Files.size(truncated)).isLessThan(before.length);
    assertThat(Files.size(longHeader)).isEqualTo(before.length);
    for (Path broken : new Path[] {truncated, longHeader, offsets}) {
      assertThatThrownBy(() -> SafetensorsReader.open(broken))
          .isInstanceOf(SafetensorsFormatException.class);
    }
  }
}
