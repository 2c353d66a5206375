package dev.flotilla.worker.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.testkit.LoraAdapterGenerator;
import dev.flotilla.testkit.Projection;
import dev.flotilla.testkit.TinyModelGenerator;
import dev.flotilla.worker.TestLogs;
import dev.flotilla.worker.engine.ContextParams;
import dev.flotilla.worker.engine.Model;
import dev.flotilla.worker.engine.NativeEngine;
import dev.flotilla.worker.engine.SamplingParams;
import dev.flotilla.worker.scheduler.SchedulerMetrics.AdapterTier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cached KV blocks and resident adapters share one pool through the real engine (JNI), evicted in
 * one least-recently-used order: whichever of an idle adapter and a cached block run was used
 * longer ago goes first, and no running sequence is preempted while either is left.
 */
class NativeSharedPoolTest {
  private static final int CACHED = 12; // blocks the prefix request leaves cached
  private static final int SPARE = 8; // blocks free beside them and the adapter

  @TempDir static Path dir;
  static Path modelDir;
  static Map<String, Path> adapterDirs;
  static long blockBytes; // of a 4-position block
  static int adapterBlocks; // blocks of budget one adapter is charged

  private long preemptions;
  private long prefixHits;
  private long poolEvictions;
  private Scheduler scheduler;
  private NativeEngineBackend backend;

  @BeforeAll
  static void model() throws Exception {
    assertThat(NativeEngine.unavailabilityCause()).as("native engine load failure").isNull();
    modelDir = TinyModelGenerator.tiny().seed(29).generate(dir.resolve("model")).directory();
    adapterDirs = Map.of("x", adapter(30, "x"), "y", adapter(31, "y"));
    try (Model model = Model.load(modelDir);
        NativeEngineBackend probe = new NativeEngineBackend(model, params(1L << 20))) {
      blockBytes = probe.kvStats().bytesPerBlock();
      LoadedAdapter x = probe.loadAdapter("x", adapterDirs.get("x"));
      adapterBlocks = (int) ((x.bytes() + blockBytes - 1) / blockBytes);
      probe.freeAdapter(x);
    }
    assertThat(adapterBlocks).as("adapter blocks").isBetween(2, CACHED);
  }

  private static Path adapter(long seed, String name) throws Exception {
    return LoraAdapterGenerator.forBase(modelDir)
        .seed(seed)
        .rank(2)
        .alpha(4)
        .targets(Projection.Q_PROJ, Projection.V_PROJ)
        .generate(dir.resolve(name))
        .directory();
  }

  private static ContextParams params(long kvBudget) {
    return ContextParams.defaults()
        .withKvBlockSize(4)
        .withKvBudgetBytes(kvBudget)
        .withMaxBatchTokens(64)
        .withMaxSequences(16)
        .withThreads(1);
  }

  /** Runs the test body against one scheduler over a pool of {@code blocks} KV blocks. */
  private void withScheduler(int blocks, Model model, Runnable body) {
    TestLogs.quiet();
    SchedulerMetrics metrics =
        new SchedulerMetrics() {
          @Override
          public void preempted() {
            preemptions++;
          }

          @Override
          public void prefixLookup(int lookup, int hit) {
            prefixHits += hit;
          }

          @Override
          public void adapterEvicted(AdapterTier from) {
            if (from == AdapterTier.POOL) {
              poolEvictions++;
            }
          }
        };
    try (NativeEngineBackend b = new NativeEngineBackend(model, params(blocks * blockBytes));
        Scheduler s =
            new Scheduler(
                b,
                new Scheduler.Limits(8, 64, 16, Integer.MAX_VALUE, 1L << 30, 256, Set.of(), true),
                new AdapterCatalog(adapterDirs),
                Runnable::run,
                metrics,
                System::nanoTime)) {
      assertThat(b.kvStats().totalBlocks()).isEqualTo(blocks);
      backend = b;
      scheduler = s;
      body.run();
    }
  }

  /** Submits the requests together and steps until all are done; their outputs. */
  private List<RecordingOutput> run(SequenceRequest... requests) {
    List<RecordingOutput> outs = new ArrayList<>();
    for (SequenceRequest r : requests) {
      RecordingOutput out = new RecordingOutput();
      outs.add(out);
      scheduler.submit(r, List.of(out));
    }
    for (int i = 0; i < 5000 && !outs.stream().allMatch(RecordingOutput::done); i++) {
      scheduler.runOnce();
    }
    assertThat(outs).allMatch(o -> o.result != null, "every request finished");
    return outs;
  }

  /** The tokens a request generates alone in a pool with room for everything. */
  private static List<Integer> alone(Model model, SequenceRequest request) {
    NativeSharedPoolTest t = new NativeSharedPoolTest();
    List<Integer> tokens = new ArrayList<>();
    t.withScheduler(1024, model, () -> tokens.addAll(t.run(request).get(0).tokens));
    return tokens;
  }

  /** Each request's tokens in {@code got} are those it generates alone. */
  private static void assertEachAsAlone(
      Model model, List<SequenceRequest> requests, List<List<Integer>> got) {
    assertThat(got).hasSameSizeAs(requests);
    for (int i = 0; i < requests.size(); i++) {
      assertThat(got.get(i))
          .as(requests.get(i).requestId())
          .isEqualTo(alone(model, requests.get(i)));
    }
  }

  private static SequenceRequest request(String id, String adapter, int[] prompt, int maxTokens) {
    return new SequenceRequest(
        id, adapter, prompt, new SamplingParams(0f, 0, 1f, 0), maxTokens, false, 0, 0);
  }

  private static int[] tokens(int n, int seed) {
    return IntStream.range(0, n).map(i -> 3 + (i * 7 + seed * 13) % 50).toArray();
  }

  /** 40 tokens of "system prompt", then 8 of a user turn: CACHED full blocks once it has run. */
  private static SequenceRequest prefixRequest(String id, int user) {
    int[] prompt = IntStream.range(0, 48).map(i -> i < 40 ? 3 + (i * 5) % 60 : 70 + user).toArray();
    return request(id, null, prompt, 1);
  }

  /**
   * Two base requests at once that together write SPARE + adapterBlocks blocks (a prompt of 8, then
   * 4k - 8 tokens computed for k blocks): exactly what evicting one side's adapter frees.
   */
  private static SequenceRequest[] pressure() {
    int total = SPARE + adapterBlocks;
    int k1 = total / 2;
    int k2 = total - k1;
    return new SequenceRequest[] {
      request("p1", null, tokens(8, 1), 4 * k1 - 7), request("p2", null, tokens(8, 2), 4 * k2 - 7)
    };
  }

  /** A request with the adapter that writes no full block: nothing of it is cached. */
  private static SequenceRequest adapterRequest(String adapter) {
    return request("use-" + adapter, adapter, tokens(2, 3), 1);
  }

  @Test
  void anIdleAdapterOlderThanCachedBlocksIsEvictedFirstAndThePrefixStaysCached() throws Exception {
    try (Model model = Model.load(modelDir)) {
      List<List<Integer>> got = new ArrayList<>();
      withScheduler(
          CACHED + adapterBlocks + SPARE,
          model,
          () -> {
            got.add(run(adapterRequest("x")).get(0).tokens); // x used first: the oldest
            got.add(run(prefixRequest("cached", 0)).get(0).tokens);
            assertThat(backend.kvStats().reclaimableBlocks()).isEqualTo(CACHED);
            assertThat(scheduler.snapshot().residentAdapters()).containsExactly("x");

            for (RecordingOutput out : run(pressure())) {
              got.add(out.tokens);
              assertThat(out.result.preemptions()).isZero();
            }
            assertThat(scheduler.snapshot().residentAdapters()).as("x evicted").isEmpty();
            assertThat(scheduler.snapshot().hostAdapters()).isEqualTo(1);
            assertThat(backend.kvStats().prefixEvictions()).as("cached blocks reclaimed").isZero();

            long hitsBefore = prefixHits;
            got.add(run(prefixRequest("hit", 1)).get(0).tokens);
            assertThat(prefixHits - hitsBefore).as("the cached prefix still serves").isEqualTo(40);
          });
      assertThat(preemptions).isZero();
      assertThat(poolEvictions).isEqualTo(1);
      List<SequenceRequest> all = new ArrayList<>();
      all.add(adapterRequest("x"));
      all.add(prefixRequest("cached", 0));
      all.addAll(List.of(pressure()));
      all.add(prefixRequest("hit", 1));
      assertEachAsAlone(model, all, got);
    }
  }

  @Test
  void cachedBlocksOlderThanAnIdleAdapterAreReclaimedFirstAndTheAdapterStays() throws Exception {
    try (Model model = Model.load(modelDir)) {
      List<List<Integer>> got = new ArrayList<>();
      withScheduler(
          CACHED + adapterBlocks + SPARE,
          model,
          () -> {
            got.add(run(prefixRequest("cached", 0)).get(0).tokens); // cached first: the oldest
            got.add(run(adapterRequest("x")).get(0).tokens);
            assertThat(scheduler.snapshot().residentAdapters()).containsExactly("x");

            for (RecordingOutput out : run(pressure())) {
              got.add(out.tokens);
              assertThat(out.result.preemptions()).isZero();
            }
            assertThat(scheduler.snapshot().residentAdapters()).as("x stays").containsExactly("x");
            assertThat(poolEvictions).isZero();
            long reclaimed = backend.kvStats().prefixEvictions();
            assertThat(reclaimed).as("cached blocks reclaimed").isEqualTo(adapterBlocks);

            // a chain goes from its end: the start of the prefix is still served
            long hitsBefore = prefixHits;
            got.add(run(prefixRequest("hit", 1)).get(0).tokens);
            assertThat(prefixHits - hitsBefore).isEqualTo(Math.min(40, 4 * (CACHED - reclaimed)));
            // what the prefix left is newer than x's last use now: x goes next
            assertThat(poolEvictions).isEqualTo(1);
            assertThat(backend.kvStats().prefixEvictions()).isEqualTo(reclaimed);
          });
      assertThat(preemptions).isZero();
      List<SequenceRequest> all = new ArrayList<>();
      all.add(prefixRequest("cached", 0));
      all.add(adapterRequest("x"));
      all.addAll(List.of(pressure()));
      all.add(prefixRequest("hit", 1));
      assertEachAsAlone(model, all, got);
    }
  }

  @Test
  void underPressureEveryRequestWithAdaptersAndSharedPrefixesGeneratesWhatItWouldAlone()
      throws Exception {
    try (Model model = Model.load(modelDir)) {
      // four waves of three: one request per adapter (and the base model), each adapter with its
      // own 24-token prefix, so a wave adopts what the one before left cached and reclaims the rest
      List<SequenceRequest> requests = new ArrayList<>();
      String[] adapters = {null, "x", "y"};
      for (int i = 0; i < 12; i++) {
        int step = 5 + 2 * (i % 3);
        int user = 70 + i;
        int[] prompt =
            IntStream.range(0, 30).map(j -> j < 24 ? 3 + (j * step) % 60 : user).toArray();
        requests.add(request("r" + i, adapters[i % 3], prompt, 6 + i % 4));
      }
      List<List<Integer>> got = new ArrayList<>();
      withScheduler(
          2 * adapterBlocks + 30,
          model,
          () -> {
            for (int w = 0; w < 4; w++) {
              for (RecordingOutput out :
                  run(requests.subList(3 * w, 3 * w + 3).toArray(SequenceRequest[]::new))) {
                got.add(out.tokens);
              }
            }
            assertThat(backend.kvStats().prefixEvictions())
                .as("cached blocks reclaimed")
                .isPositive();
          });
      assertThat(prefixHits).as("prefix hits").isPositive();
      assertEachAsAlone(model, requests, got);
    }
  }
}
