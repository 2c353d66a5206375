package dev.flotilla.worker.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.flotilla.worker.InProcessWorker;
import dev.flotilla.worker.TestLogs;
import dev.flotilla.worker.TestModels;
import dev.flotilla.worker.config.WorkerSettings;
import dev.flotilla.worker.engine.DeviceUnavailableException;
import dev.flotilla.worker.engine.Devices;
import dev.flotilla.worker.engine.EngineException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading a model: the tokenizer and the weights, read side by side, and the errors of each. */
class WorkerRuntimeTest {
  @TempDir Path tmp;

  @BeforeAll
  static void quiet() {
    TestLogs.quiet();
  }

  @Test
  void startsWithTokenizerAndWeightsOfTheModel() throws Exception {
    try (WorkerRuntime runtime =
        WorkerRuntime.start(InProcessWorker.settings(), new SimpleMeterRegistry())) {
      assertThat(runtime.tokenizer().encode("hello")).isNotEmpty();
      assertThat(runtime.modelInfo().vocabSize()).isPositive();
    }
  }

  @Test
  void missingTokenizerIsAnIoErrorThatNamesTheFile() throws Exception {
    Path model = copyOfTinyModelWithout("tokenizer.json");
    assertThatThrownBy(() -> WorkerRuntime.start(settingsFor(model), new SimpleMeterRegistry()))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(model.resolve("tokenizer.json").toString());
  }

  @Test
  void missingWeightsAreAnEngineErrorThoughTheTokenizerLoaded() throws Exception {
    Path model = copyOfTinyModelWithout("model.safetensors");
    assertThatThrownBy(() -> WorkerRuntime.start(settingsFor(model), new SimpleMeterRegistry()))
        .isInstanceOf(EngineException.class)
        .hasMessageContaining("model.safetensors");
  }

  @Test
  void autoLoadsOnTheCpuWithoutAGpuAndReportsIt() throws Exception {
    assumeTrue(Devices.cudaCount() == 0, "this machine has a GPU");
    try (WorkerRuntime runtime =
        WorkerRuntime.start(
            InProcessWorker.settings().withDevice("auto"), new SimpleMeterRegistry())) {
      assertThat(runtime.device()).isEqualTo("cpu");
      assertThat(runtime.gpu()).isEmpty();
    }
  }

  @Test
  void aGpuThatIsNotThereFailsTheLoadWithTheReason() {
    String missing = Devices.cuda(Devices.cudaCount());
    assertThatThrownBy(
            () ->
                WorkerRuntime.start(
                    InProcessWorker.settings().withDevice(missing), new SimpleMeterRegistry()))
        .isInstanceOf(DeviceUnavailableException.class)
        .hasMessageContaining("FLOTILLA_DEVICE")
        .hasMessageContaining("is " + missing + " but the engine sees")
        .hasMessageContaining("does not fall back to the CPU");
  }

  private static WorkerSettings settingsFor(Path model) {
    return WorkerSettings.forModel(model)
        .withModelName("tiny")
        .withKvCacheBytes(16L << 20)
        .withThreads(1);
  }

  private Path copyOfTinyModelWithout(String file) throws IOException {
    Path source = TestModels.ensure();
    Path copy = tmp.resolve("model");
    Files.createDirectories(copy);
    try (Stream<Path> files = Files.list(source)) {
      for (Path f : files.filter(Files::isRegularFile).toList()) {
        if (!f.getFileName().toString().equals(file)) {
          Files.copy(f, copy.resolve(f.getFileName()));
        }
      }
    }
    return copy;
  }
}
