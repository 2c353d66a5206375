package dev.flotilla.worker.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.testkit.TinyModelGenerator;
import dev.flotilla.worker.TestLogs;
import dev.flotilla.worker.engine.ContextParams;
import dev.flotilla.worker.engine.Model;
import dev.flotilla.worker.engine.NativeEngine;
import dev.flotilla.worker.engine.SamplingParams;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * n choices through the real engine (JNI): the prompt is computed once and forked, greedy choices
 * agree, seeded ones are reproducible however they are batched, and every KV block comes back.
 */
class NativeChoicesTest {
  @TempDir static Path dir;
  static Path modelDir;

  private final AtomicLong promptTokens = new AtomicLong();

  @BeforeAll
  static void model() throws Exception {
    assertThat(NativeEngine.unavailabilityCause()).as("native engine load failure").isNull();
    modelDir = TinyModelGenerator.tiny().seed(11).generate(dir.resolve("model")).directory();
  }

  /** Runs the requests, each with its own outputs, in one scheduler; returns tokens per choice. */
  private List<List<List<Integer>>> run(List<SequenceRequest> requests, List<Integer> choices) {
    TestLogs.quiet();
    ContextParams params =
        ContextParams.defaults()
            .withKvBlockSize(4)
            .withKvBudgetBytes(2L << 20)
            .withMaxBatchTokens(64)
            .withMaxSequences(16)
            .withThreads(1);
    try (Model model = Model.load(modelDir);
        NativeEngineBackend backend = new NativeEngineBackend(model, params);
        Scheduler scheduler =
            new Scheduler(
                backend,
                new Scheduler.Limits(16, 64, 16, 0, 0, 128, Set.of()),
                new AdapterCatalog(Map.of()),
                Runnable::run,
                new SchedulerMetrics() {
                  @Override
                  public void promptTokensComputed(int count) {
                    promptTokens.addAndGet(count);
                  }
                },
                System::nanoTime)) {
      int freeAtStart = backend.kvStats().freeBlocks();
      List<List<RecordingOutput>> outputs = new ArrayList<>();
      for (int r = 0; r < requests.size(); r++) {
        List<RecordingOutput> out = new ArrayList<>();
        for (int i = 0; i < choices.get(r); i++) {
          out.add(new RecordingOutput());
        }
        outputs.add(out);
        scheduler.submit(requests.get(r), List.copyOf(out));
      }
      List<RecordingOutput> all = outputs.stream().flatMap(List::stream).toList();
      for (int i = 0; i < 1000 && !all.stream().allMatch(RecordingOutput::done); i++) {
        scheduler.runOnce();
      }
      assertThat(all).allMatch(o -> o.result != null, "every choice finished");
      assertThat(backend.kvStats().freeBlocks()).isEqualTo(freeAtStart);
      return outputs.stream()
          .map(out -> out.stream().map(o -> List.copyOf(o.tokens)).toList())
          .toList();
    }
  }

  private static SequenceRequest request(String id, int[] prompt, float temperature, long seed) {
    return new SequenceRequest(
        id, null, prompt, new SamplingParams(temperature, 0, 1f, seed), 12, false, 0, 0);
  }

  private static int[] prompt(int length, int offset) {
    return IntStream.range(0, length).map(i -> 3 + (i * 7 + offset) % 50).toArray();
  }

  @Test
  void greedyChoicesAreIdenticalAndThePromptIsComputedOnce() {
    int[] prompt = prompt(19, 0); // 4 full blocks and a partial one
    List<List<Integer>> choices = run(List.of(request("g", prompt, 0f, 1)), List.of(4)).get(0);

    assertThat(promptTokens.get()).isEqualTo(19);
    assertThat(choices).hasSize(4).allMatch(c -> c.size() == 12);
    assertThat(choices).allMatch(c -> c.equals(choices.get(0)));
    promptTokens.set(0);
    List<Integer> single = run(List.of(request("g1", prompt, 0f, 1)), List.of(1)).get(0).get(0);
    assertThat(single).isEqualTo(choices.get(0));
  }

  @Test
  void seededChoicesAreReproducibleHoweverTheyAreBatched() {
    SequenceRequest sampled = request("t", prompt(10, 3), 1.5f, 1234);
    List<List<Integer>> alone = run(List.of(sampled), List.of(4)).get(0);
    assertThat(promptTokens.get()).isEqualTo(10);
    assertThat(alone.stream().distinct().count()).as("choices differ").isGreaterThan(1);

    List<List<List<Integer>>> batched =
        run(List.of(request("other", prompt(23, 5), 0.8f, 9), sampled), List.of(3, 4));
    assertThat(batched.get(1)).isEqualTo(alone);
    assertThat(promptTokens.get()).isEqualTo(10 + 23 + 10);

    // choice 0 samples as a request for one choice does
    List<Integer> single = run(List.of(sampled), List.of(1)).get(0).get(0);
    assertThat(single).isEqualTo(alone.get(0));
  }
}
