package dev.flotilla.worker.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.testkit.Dtype;
import dev.flotilla.testkit.LoraAdapterGenerator;
import dev.flotilla.testkit.Projection;
import dev.flotilla.testkit.TinyModelGenerator;
import dev.flotilla.worker.engine.ContextParams;
import dev.flotilla.worker.engine.Model;
import dev.flotilla.worker.engine.ModelInfo;
import dev.flotilla.worker.engine.NativeEngine;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The adapter memory the backend reports to the Scheduler's admission budget is what the engine
 * holds.
 */
class NativeEngineBackendTest {
  @TempDir Path dir;

  @Test
  void adapterBytesFollowTheStorageDtype() throws Exception {
    assertThat(NativeEngine.unavailabilityCause()).as("native engine load failure").isNull();
    ContextParams params =
        ContextParams.defaults()
            .withKvBudgetBytes(4L << 20)
            .withMaxBatchTokens(64)
            .withMaxSequences(4)
            .withThreads(1);
    for (Dtype dtype : new Dtype[] {Dtype.F32, Dtype.BF16}) {
      Path modelDir =
          TinyModelGenerator.tiny()
              .seed(3)
              .dtype(dtype)
              .generate(dir.resolve("model-" + dtype))
              .directory();
      Path lora =
          LoraAdapterGenerator.forBase(modelDir)
              .rank(8)
              .targets(Projection.K_PROJ, Projection.UP_PROJ)
              .generate(dir.resolve("lora-" + dtype))
              .directory();
      try (Model model = Model.load(modelDir);
          NativeEngineBackend backend = new NativeEngineBackend(model, params)) {
        ModelInfo info = model.info();
        // rank x (in + out) of k_proj and up_proj, every layer, 4 bytes (F32 model) or 2 (BF16
        // adapters)
        long elements =
            8L
                * info.layers()
                * (info.hiddenSize()
                    + info.kvHeads() * info.headDim()
                    + info.hiddenSize()
                    + info.intermediateSize());
        LoadedAdapter loaded = backend.loadAdapter("a", lora);
        assertThat(loaded.bytes()).isEqualTo(elements * (dtype == Dtype.F32 ? 4 : 2));
        backend.freeAdapter(loaded);
      }
    }
  }
}
