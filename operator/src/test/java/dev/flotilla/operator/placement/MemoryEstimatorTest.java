package dev.flotilla.operator.placement;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.crd.Dtype;
import dev.flotilla.api.crd.EngineLimits;
import dev.flotilla.api.crd.KvCacheDtype;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.operator.Fixtures;
import dev.flotilla.operator.files.ModelFiles;
import dev.flotilla.operator.files.SafetensorsHeaders;
import dev.flotilla.operator.model.EffectiveSpec;
import dev.flotilla.testkit.GeneratedModel;
import dev.flotilla.testkit.TinyModelGenerator;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MemoryEstimatorTest {
  @TempDir Path dir;

  @Test
  void weightsComeFromTheSafetensorsHeadersWhenTheSourceIsReadable() throws Exception {
    GeneratedModel model = TinyModelGenerator.tiny().build().writeTo(dir.resolve("tiny"));
    ModelDeployment md = Fixtures.model("tiny");
    md.getSpec().getModel().setSource(dir.resolve("tiny").toUri().toString());
    md.getSpec().getModel().setWeightsMemory(null);

    MemoryNeed f32 = MemoryEstimator.estimate(EffectiveSpec.of(md.getSpec())).need();
    assertThat(f32.weightsBytes()).isEqualTo(model.parameterCount() * 4);

    md.getSpec().getModel().setDtype(Dtype.BF16);
    MemoryNeed bf16 = MemoryEstimator.estimate(EffectiveSpec.of(md.getSpec())).need();
    assertThat(bf16.weightsBytes()).isEqualTo(model.parameterCount() * 2);

    // INT8: a byte per matrix element, an F32 scale per row and an F16 scale per 32 columns of a
    // row; vectors stay F32; the untied embedding stays as stored (F32 here)
    md.getSpec().getModel().setDtype(Dtype.INT8);
    MemoryNeed int8 = MemoryEstimator.estimate(EffectiveSpec.of(md.getSpec())).need();
    var tensors = SafetensorsHeaders.read(dir.resolve("tiny/model.safetensors")).values();
    assertThat(tensors).anyMatch(t -> t.name().equals("lm_head.weight"));
    long expected = 0;
    for (SafetensorsHeaders.Tensor t : tensors) {
      expected +=
          t.name().equals("model.embed_tokens.weight")
              ? 4 * t.elements()
              : t.shape().size() == 2
                  ? t.elements() + t.shape().get(0) * (4 + 2 * ((t.shape().get(1) + 31) / 32))
                  : 4 * t.elements();
    }
    // (the F32 embedding is a large share of this tiny model: less than BF16, not half)
    assertThat(int8.weightsBytes()).isEqualTo(expected).isLessThan(bf16.weightsBytes());
    // adapters are paged in the KV cache's memory: nothing beside it
    assertThat(int8.totalBytes()).isEqualTo(int8.weightsBytes() + int8.kvCacheBytes());
  }

  @Test
  void kvCacheTokensFollowTheKvDtype() throws Exception {
    TinyModelGenerator.tiny().build().writeTo(dir.resolve("tiny"));
    ModelDeployment md = Fixtures.model("tiny");
    md.getSpec().getModel().setSource(dir.resolve("tiny").toUri().toString());
    if (md.getSpec().getEngine() == null) {
      md.getSpec().setEngine(new EngineLimits());
    }
    md.getSpec().getEngine().setKvCacheMemory("64Mi");
    ModelFiles.Shapes shapes = ModelFiles.shapes(dir.resolve("tiny"));
    long f32PerToken = 2L * shapes.layers() * shapes.keyValueHeads() * shapes.headDim() * 4;

    MemoryNeed bf16 = MemoryEstimator.estimate(EffectiveSpec.of(md.getSpec())).need();
    md.getSpec().getEngine().setKvCacheDtype(KvCacheDtype.F32);
    MemoryNeed f32 = MemoryEstimator.estimate(EffectiveSpec.of(md.getSpec())).need();

    assertThat(f32.kvCacheTokens()).isEqualTo((64L << 20) / f32PerToken);
    assertThat(bf16.kvCacheTokens()).isEqualTo(2 * f32.kvCacheTokens()); // the default, BF16
    assertThat(bf16.kvCacheBytes()).isEqualTo(f32.kvCacheBytes()).isEqualTo(64L << 20);
    assertThat(bf16.breakdown())
        .contains("KV cache and adapters 64 MiB (" + bf16.kvCacheTokens() + " tokens)");
  }

  @Test
  void unreadableSourceWithoutWeightsMemoryIsExplained() {
    ModelDeployment md = Fixtures.model("remote");
    md.getSpec().getModel().setSource("hf://meta-llama/Llama-3-8B");
    md.getSpec().getModel().setWeightsMemory(null);
    MemoryEstimator.Estimate estimate = MemoryEstimator.estimate(EffectiveSpec.of(md.getSpec()));
    assertThat(estimate.need()).isNull();
    assertThat(estimate.unknownReason()).contains("set spec.model.weightsMemory");
  }

  @Test
  void declaredWeightsWhenFilesAreRemote() {
    MemoryNeed need =
        MemoryEstimator.estimate(EffectiveSpec.of(Fixtures.model("m").getSpec())).need();
    assertThat(need.weightsBytes()).isEqualTo(10L << 30);
    assertThat(need.kvCacheBytes()).isEqualTo(1L << 30);
    assertThat(need.kvCacheTokens()).isZero(); // the shapes are remote
    assertThat(need.totalBytes()).isEqualTo(11L << 30);
  }
}
