package dev.flotilla.operator.lora;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.crd.LoraAdapterSpec;
import dev.flotilla.api.crd.LoraTarget;
import dev.flotilla.testkit.CorruptFiles;
import dev.flotilla.testkit.LoraAdapterGenerator;
import dev.flotilla.testkit.Projection;
import dev.flotilla.testkit.TinyModelGenerator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdapterValidatorTest {
  @TempDir Path dir;
  Path base;
  Path adapter;

  @BeforeEach
  void generate() throws Exception {
    base = dir.resolve("base");
    TinyModelGenerator.tiny().build().writeTo(base);
    adapter = dir.resolve("lora");
    LoraAdapterGenerator.forBase(base)
        .rank(8)
        .targets(Projection.Q_PROJ, Projection.V_PROJ)
        .generate(adapter);
  }

  private static LoraAdapterSpec spec(Path source) {
    LoraAdapterSpec spec = new LoraAdapterSpec();
    spec.setModelDeployment("tiny");
    spec.setSource(source.toUri().toString());
    return spec;
  }

  @Test
  void realAdapterIsValidAndReportsWhatItFound() {
    AdapterCheck check = AdapterValidator.validate(spec(adapter), 64, base.toUri().toString());
    assertThat(check.valid()).as(check.message()).isTrue();
    assertThat(check.reason()).isEqualTo(AdapterCheck.FILES_CHECKED);
    assertThat(check.rank()).isEqualTo(8);
    assertThat(check.targetModules()).containsExactlyInAnyOrder("q_proj", "v_proj");
    assertThat(check.message()).contains("matching the base model's shapes");
  }

  @Test
  void rankAboveTheModelsMaximum() {
    AdapterCheck check = AdapterValidator.validate(spec(adapter), 4, base.toUri().toString());
    assertThat(check.reason()).isEqualTo(AdapterCheck.RANK_TOO_HIGH);
    assertThat(check.message())
        .isEqualTo("rank 8 in adapter_config.json exceeds the model's engine.maxLoraRank 4");
  }

  @Test
  void shapeMismatchAgainstTheBase() throws Exception {
    Path broken = CorruptFiles.shapeMismatch(adapter, dir.resolve("broken"));
    AdapterCheck check = AdapterValidator.validate(spec(broken), 64, base.toUri().toString());
    assertThat(check.reason()).isEqualTo(AdapterCheck.SHAPE_MISMATCH);
    assertThat(check.message()).contains("needs [8, 128]");
  }

  @Test
  void missingTensorAndConfigRankThatDisagreesWithTheTensors() throws Exception {
    AdapterCheck missing =
        AdapterValidator.validate(
            spec(CorruptFiles.missingTargetTensor(adapter, dir.resolve("m"))),
            64,
            base.toUri().toString());
    assertThat(missing.reason()).isEqualTo(AdapterCheck.SHAPE_MISMATCH);
    assertThat(missing.message()).contains("lacks");
    AdapterCheck wrongRank =
        AdapterValidator.validate(
            spec(CorruptFiles.wrongRankInConfig(adapter, dir.resolve("r"), 16)),
            64,
            base.toUri().toString());
    assertThat(wrongRank.reason()).isEqualTo(AdapterCheck.SHAPE_MISMATCH);
  }

  @Test
  void missingFilesAndTruncatedHeader() throws Exception {
    Files.delete(adapter.resolve("adapter_config.json"));
    AdapterCheck check = AdapterValidator.validate(spec(adapter), 64, base.toUri().toString());
    assertThat(check.reason()).isEqualTo(AdapterCheck.FILES_MISSING);
    assertThat(check.message()).startsWith("adapter_config.json is missing");

    Path other = dir.resolve("other");
    LoraAdapterGenerator.forBase(base).rank(4).targets(Projection.O_PROJ).generate(other);
    CorruptFiles.truncatedHeader(
        other.resolve("adapter_model.safetensors"), other.resolve("t.safetensors"));
    Files.move(
        other.resolve("t.safetensors"),
        other.resolve("adapter_model.safetensors"),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    assertThat(AdapterValidator.validate(spec(other), 64, base.toUri().toString()).reason())
        .isEqualTo(AdapterCheck.BAD_FILES);
  }

  @Test
  void specThatDisagreesWithTheFiles() {
    LoraAdapterSpec spec = spec(adapter);
    spec.setTargetModules(List.of(LoraTarget.q_proj));
    assertThat(AdapterValidator.validate(spec, 64, base.toUri().toString()).reason())
        .isEqualTo(AdapterCheck.SPEC_MISMATCH);
    spec.setTargetModules(null);
    spec.setRank(16);
    assertThat(AdapterValidator.validate(spec, 64, base.toUri().toString()).reason())
        .isEqualTo(AdapterCheck.SPEC_MISMATCH);
  }

  @Test
  void unreadableSourceIsCheckedFromTheSpecOnly() {
    LoraAdapterSpec spec = new LoraAdapterSpec();
    spec.setSource("s3://bucket/adapters/a");
    spec.setRank(16);
    spec.setTargetModules(List.of(LoraTarget.q_proj));
    AdapterCheck ok = AdapterValidator.validate(spec, 64, "s3://bucket/base");
    assertThat(ok.valid()).isTrue();
    assertThat(ok.reason()).isEqualTo(AdapterCheck.SPEC_CHECKED);
    assertThat(ok.rank()).isEqualTo(16);
    assertThat(AdapterValidator.validate(spec, 8, "s3://bucket/base").reason())
        .isEqualTo(AdapterCheck.RANK_TOO_HIGH);
  }
}
