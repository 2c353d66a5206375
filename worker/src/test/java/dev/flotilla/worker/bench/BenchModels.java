package dev.flotilla.worker.bench;

import dev.flotilla.testkit.Dtype;
import dev.flotilla.testkit.LoraAdapterGenerator;
import dev.flotilla.testkit.Projection;
import dev.flotilla.testkit.TinyModelGenerator;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes the benchmark's model and adapters unless they are there already: the testkit's medium
 * model (about 200 M parameters, BF16) and {@code count} rank-16 adapters on q/k/v/o. The first 64
 * are F32 files (5 MB each); the rest are BF16 (2.6 MB each: 1,000 adapters take 2.6 GB of disk,
 * not 5), which the engine holds as it holds the F32 ones, in the model's BF16. Usage: {@code
 * BenchModels DIR [count=64]}.
 */
public final class BenchModels {
  private BenchModels() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    int count = args.length > 1 ? Integer.parseInt(args[1]) : 64;
    Path model = dir.resolve("medium");
    if (!Files.exists(model.resolve("done"))) {
      TinyModelGenerator.medium().generate(model);
      Files.writeString(model.resolve("done"), "");
    }
    for (int i = 0; i < count; i++) {
      Path adapter = dir.resolve("adapters/a" + i);
      if (!Files.exists(adapter.resolve("adapter_model.safetensors"))) {
        LoraAdapterGenerator.forBase(model)
            .seed(1000 + i)
            .rank(16)
            .alpha(32)
            .targets(Projection.Q_PROJ, Projection.K_PROJ, Projection.V_PROJ, Projection.O_PROJ)
            .dtype(i < 64 ? Dtype.F32 : Dtype.BF16)
            .generate(adapter);
      }
    }
  }
}
