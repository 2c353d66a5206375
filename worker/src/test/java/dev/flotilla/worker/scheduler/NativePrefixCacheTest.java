package dev.flotilla.worker.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.testkit.TinyModelGenerator;
import dev.flotilla.worker.TestLogs;
import dev.flotilla.worker.engine.ContextParams;
import dev.flotilla.worker.engine.KvStats;
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
 * Prefix caching through the real engine (JNI): a request whose prompt starts like an earlier one
 * computes only the rest and generates what it generates with the cache off, with preemption too.
 */
class NativePrefixCacheTest {
  @TempDir static Path dir;
  static Path modelDir;
  static long blockBytes; // of a 4-position block

  private final AtomicLong promptTokens = new AtomicLong();
  private final AtomicLong lookupTokens = new AtomicLong();
  private final AtomicLong hitTokens = new AtomicLong();
  private final AtomicLong preemptions = new AtomicLong();
  private KvStats lastStats;

  @BeforeAll
  static void model() throws Exception {
    assertThat(NativeEngine.unavailabilityCause()).as("native engine load failure").isNull();
    modelDir = TinyModelGenerator.tiny().seed(23).generate(dir.resolve("model")).directory();
    try (Model model = Model.load(modelDir);
        NativeEngineBackend probe =
            new NativeEngineBackend(
                model, ContextParams.defaults().withKvBlockSize(4).withKvBudgetBytes(1L << 20))) {
      blockBytes = probe.kvStats().bytesPerBlock();
    }
  }

  /**
   * Runs the waves of requests in one scheduler, each wave to completion before the next is
   * submitted; returns each request's tokens in submission order.
   */
  private List<List<Integer>> run(
      boolean prefixCache, long kvBudget, int maxBatch, List<List<SequenceRequest>> waves) {
    TestLogs.quiet();
    promptTokens.set(0);
    lookupTokens.set(0);
    hitTokens.set(0);
    preemptions.set(0);
    ContextParams params =
        ContextParams.defaults()
            .withKvBlockSize(4)
            .withKvBudgetBytes(kvBudget)
            .withMaxBatchTokens(64)
            .withMaxSequences(16)
            .withThreads(1);
    SchedulerMetrics metrics =
        new SchedulerMetrics() {
          @Override
          public void promptTokensComputed(int count) {
            promptTokens.addAndGet(count);
          }

          @Override
          public void prefixLookup(int lookup, int hit) {
            lookupTokens.addAndGet(lookup);
            hitTokens.addAndGet(hit);
          }

          @Override
          public void preempted() {
            preemptions.incrementAndGet();
          }
        };
    try (Model model = Model.load(modelDir);
        NativeEngineBackend backend = new NativeEngineBackend(model, params);
        Scheduler scheduler =
            new Scheduler(
                backend,
                new Scheduler.Limits(maxBatch, 64, 16, 0, 0, 128, Set.of(), prefixCache),
                new AdapterCatalog(Map.of()),
                Runnable::run,
                metrics,
                System::nanoTime)) {
      int freeAtStart = backend.kvStats().freeBlocks();
      List<List<Integer>> tokens = new ArrayList<>();
      for (List<SequenceRequest> wave : waves) {
        List<RecordingOutput> outputs = new ArrayList<>();
        for (SequenceRequest r : wave) {
          RecordingOutput out = new RecordingOutput();
          outputs.add(out);
          scheduler.submit(r, List.of(out));
        }
        for (int i = 0; i < 5000 && !outputs.stream().allMatch(RecordingOutput::done); i++) {
          scheduler.runOnce();
        }
        assertThat(outputs).allMatch(o -> o.result != null, "every request finished");
        outputs.forEach(o -> tokens.add(List.copyOf(o.tokens)));
      }
      lastStats = backend.kvStats();
      // cached blocks stay, reclaimable, and count as free
      assertThat(lastStats.freeBlocks()).isEqualTo(freeAtStart);
      return tokens;
    }
  }

  private static SequenceRequest request(String id, int[] prompt) {
    return new SequenceRequest(id, null, prompt, new SamplingParams(0f, 0, 1f, 0), 10, false, 0, 0);
  }

  /** A 40-token shared "system prompt" followed by a 6-token user turn. */
  private static int[] prompt(int user) {
    return IntStream.range(0, 46)
        .map(i -> i < 40 ? 3 + (i * 7) % 50 : 3 + (i * 11 + user * 5) % 50)
        .toArray();
  }

  @Test
  void aSecondRequestWithTheSamePrefixComputesOnlyTheRest() {
    List<List<SequenceRequest>> waves =
        List.of(List.of(request("a", prompt(1))), List.of(request("b", prompt(2))));
    List<List<Integer>> cached = run(true, 256 * blockBytes, 16, waves);
    assertThat(promptTokens.get()).isEqualTo(46 + 6); // b adopts the 40 shared positions
    assertThat(hitTokens.get()).isEqualTo(40);
    assertThat(lookupTokens.get()).isEqualTo(46 + 46);
    assertThat(lastStats.prefixHitTokens()).isEqualTo(40);
    assertThat(lastStats.cachedBlocks()).isGreaterThanOrEqualTo(10);

    List<List<Integer>> uncached = run(false, 256 * blockBytes, 16, waves);
    assertThat(promptTokens.get()).isEqualTo(46 + 46);
    assertThat(lookupTokens.get()).isZero();
    assertThat(cached).isEqualTo(uncached);
    assertThat(cached).allMatch(t -> t.size() == 10);
  }

  @Test
  void anIdenticalPromptRecomputesOnlyItsLastToken() {
    List<List<SequenceRequest>> waves =
        List.of(List.of(request("a", prompt(1))), List.of(request("again", prompt(1))));
    List<List<Integer>> cached = run(true, 256 * blockBytes, 16, waves);
    assertThat(promptTokens.get()).isEqualTo(46 + 2); // 44 of 46 positions adopted (whole blocks)
    assertThat(cached.get(1)).isEqualTo(cached.get(0));
  }

  @Test
  void preemptedSequencesReadoptTheirCachedBlocksAndGenerateTheSameTokens() {
    // 8 requests sharing the prefix at once in a pool of 40 blocks of 4: they outgrow it and are
    // preempted; on readmission each adopts what is still cached of its prompt and tokens
    List<SequenceRequest> wave =
        IntStream.range(0, 8).mapToObj(i -> request("r" + i, prompt(i))).toList();
    List<List<Integer>> cached = run(true, 40 * blockBytes, 8, List.of(wave));
    long cachedPreemptions = preemptions.get();
    long hits = hitTokens.get();
    List<List<Integer>> uncached = run(false, 40 * blockBytes, 8, List.of(wave));
    assertThat(cachedPreemptions + preemptions.get()).as("preemptions").isPositive();
    assertThat(hits).isPositive();
    assertThat(cached).isEqualTo(uncached);
  }
}
