package dev.flotilla.worker.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flotilla.testkit.SentenceTransformersFiles;
import dev.flotilla.testkit.SentenceTransformersFiles.Pooling;
import dev.flotilla.worker.scheduler.Pooling.Mode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbeddingConfigTest {
  @TempDir Path dir;

  @Test
  void aModelWithoutModulesJsonIsNoEmbeddingModel() throws IOException {
    assertThat(EmbeddingConfig.load(dir)).isEmpty();
  }

  @Test
  void lastTokenWithANormalizeModule() throws IOException {
    SentenceTransformersFiles.write(dir, 64, Pooling.LAST_TOKEN, true);
    assertThat(EmbeddingConfig.load(dir))
        .contains(new dev.flotilla.worker.scheduler.Pooling(Mode.LAST_TOKEN, true));
  }

  @Test
  void meanTokensWithoutNormalize() throws IOException {
    SentenceTransformersFiles.write(dir, 64, Pooling.MEAN_TOKENS, false);
    assertThat(EmbeddingConfig.load(dir))
        .contains(new dev.flotilla.worker.scheduler.Pooling(Mode.MEAN, false));
  }

  @Test
  void otherPoolingModesAreRefusedByName() throws IOException {
    SentenceTransformersFiles.write(dir, 64, Pooling.CLS_TOKEN, true);
    assertThatThrownBy(() -> EmbeddingConfig.load(dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("pooling_mode_cls_token")
        .hasMessageContaining("1_Pooling");
  }

  @Test
  void excludingThePromptIsRefusedByName() throws IOException {
    SentenceTransformersFiles.write(dir, 64, Pooling.MEAN_TOKENS, false);
    Path config = dir.resolve("1_Pooling/config.json");
    Files.writeString(
        config,
        Files.readString(config)
            .replace("\"include_prompt\" : true", "\"include_prompt\" : false"));
    assertThatThrownBy(() -> EmbeddingConfig.load(dir)).hasMessageContaining("include_prompt");
  }

  @Test
  void aMissingPoolingConfigIsNamed() throws IOException {
    SentenceTransformersFiles.write(dir, 64, Pooling.LAST_TOKEN, false);
    Files.delete(dir.resolve("1_Pooling/config.json"));
    assertThatThrownBy(() -> EmbeddingConfig.load(dir))
        .hasMessageContaining("1_Pooling")
        .hasMessageContaining("missing");
  }
}
