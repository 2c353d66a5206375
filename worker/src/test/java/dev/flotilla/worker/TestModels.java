package dev.flotilla.worker;

import dev.flotilla.testkit.CorruptFiles;
import dev.flotilla.testkit.LoraAdapterGenerator;
import dev.flotilla.testkit.LoraConfig;
import dev.flotilla.testkit.Projection;
import dev.flotilla.testkit.TinyModelGenerator;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The tiny generated model and its adapters, written once per test JVM under {@code
 * target/worker-test-models}: eight good adapters ({@code lora-0} .. {@code lora-7}, ranks 4 to 16,
 * different targets), a {@code broken} one (truncated safetensors header), a {@code mismatched} one
 * (a lora_A one column too wide) and one made for another base model.
 */
public final class TestModels {
  public static final Path ROOT = Path.of("target", "worker-test-models").toAbsolutePath();
  public static final Path MODEL = ROOT.resolve("tiny");
  public static final Path BROKEN = ROOT.resolve("adapters/broken");
  public static final Path MISMATCHED = ROOT.resolve("adapters/mismatched");
  public static final Path OTHER_BASE = ROOT.resolve("adapters/other-base");
  public static final Map<String, Path> ADAPTERS = new LinkedHashMap<>();

  private static boolean written;

  static {
    for (int i = 0; i < 8; i++) {
      ADAPTERS.put("lora-" + i, ROOT.resolve("adapters/lora-" + i));
    }
  }

  private TestModels() {}

  /** Writes the files if this JVM has not yet; returns the model directory. */
  public static synchronized Path ensure() {
    if (written) {
      return MODEL;
    }
    try {
      TinyModelGenerator.tiny().seed(7).generate(MODEL);
      Projection[][] targets = {
        {Projection.Q_PROJ, Projection.V_PROJ},
        {Projection.Q_PROJ, Projection.K_PROJ, Projection.V_PROJ, Projection.O_PROJ},
        Projection.unfused(),
        {Projection.GATE_PROJ, Projection.UP_PROJ, Projection.DOWN_PROJ},
      };
      int i = 0;
      for (Path dir : ADAPTERS.values()) {
        LoraAdapterGenerator.forBase(MODEL)
            .seed(100 + i)
            .rank(4 << (i % 3))
            .alpha(16)
            .targets(targets[i % targets.length])
            .generate(dir);
        i++;
      }
      Path good = ADAPTERS.get("lora-0");
      CorruptFiles.copyDirectory(good, BROKEN);
      CorruptFiles.truncatedHeader(
          good.resolve(LoraConfig.WEIGHTS_FILE), BROKEN.resolve(LoraConfig.WEIGHTS_FILE));
      CorruptFiles.shapeMismatch(good, MISMATCHED);
      Path other =
          TinyModelGenerator.tiny()
              .seed(8)
              .hiddenSize(64)
              .headDim(16)
              .generate(ROOT.resolve("other"))
              .directory();
      LoraAdapterGenerator.forBase(other).rank(4).targets(Projection.Q_PROJ).generate(OTHER_BASE);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    written = true;
    return MODEL;
  }
}
