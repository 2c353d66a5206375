package dev.flotilla.worker.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flotilla.worker.TestLogs;
import dev.flotilla.worker.engine.SamplingParams;
import dev.flotilla.worker.scheduler.SchedulerMetrics.AdapterSource;
import dev.flotilla.worker.scheduler.SchedulerMetrics.AdapterTier;
import dev.flotilla.worker.scheduler.SequenceOutput.Failure;
import dev.flotilla.worker.scheduler.SequenceResult.FinishReason;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The batching policy, stepped one iteration at a time over {@link FakeEngine}. */
class SchedulerTest {
  private final AtomicLong clock = new AtomicLong();
  private final List<Runnable> loaderQueue = new ArrayList<>();
  private FakeEngine engine;
  private Scheduler scheduler;
  private int prefillChunk = 32;
  private long hostBytes = 1L << 30; // the adapter host tier

  private Scheduler scheduler(
      FakeEngine fake,
      int maxBatch,
      int stepTokens,
      int slots,
      int context,
      Map<String, Path> adapters) {
    TestLogs.quiet();
    engine = fake;
    scheduler =
        new Scheduler(
            fake,
            new Scheduler.Limits(
                maxBatch,
                stepTokens,
                prefillChunk,
                slots,
                hostBytes,
                context,
                Set.of(FakeEngine.EOS)),
            new AdapterCatalog(adapters),
            loaderQueue::add,
            SchedulerMetrics.NONE,
            () -> clock.addAndGet(1_000_000));
    return scheduler;
  }

  private Scheduler scheduler(int maxBatch, int blocks) {
    return scheduler(new FakeEngine(maxBatch, 4, blocks), maxBatch, 128, 2, 256, Map.of());
  }

  private static SequenceRequest request(String id, int[] prompt, int maxTokens) {
    return request(id, null, prompt, maxTokens, 0, 0);
  }

  private static SequenceRequest request(
      String id, String adapter, int[] prompt, int maxTokens, int priority, double vtc) {
    return new SequenceRequest(
        id,
        adapter,
        prompt,
        new SamplingParams(0.7f, 0, 1f, id.hashCode()),
        maxTokens,
        false,
        priority,
        vtc);
  }

  /** Steps until every output is done, running adapter loads as they are queued. */
  private int runToCompletion(List<RecordingOutput> outputs) {
    int steps = 0;
    while (!outputs.stream().allMatch(RecordingOutput::done)) {
      scheduler.runOnce();
      List<Runnable> loads = new ArrayList<>(loaderQueue);
      loaderQueue.clear();
      loads.forEach(Runnable::run);
      assertThat(++steps).as("steps (a deadlock never finishes)").isLessThan(10_000);
    }
    return steps;
  }

  /** The tokens a request generates when it has the scheduler to itself. */
  private List<Integer> alone(SequenceRequest request, Map<String, Path> adapters) {
    Scheduler saved = scheduler;
    FakeEngine savedEngine = engine;
    scheduler(new FakeEngine(4, 4, 1000), 4, 64, 4, 256, adapters);
    RecordingOutput out = new RecordingOutput();
    scheduler.submit(request, out);
    runToCompletion(List.of(out));
    scheduler = saved;
    engine = savedEngine;
    return out.tokens;
  }

  @Test
  void batchesSequencesAndEachGetsWhatItWouldAlone() {
    scheduler(8, 1000);
    List<SequenceRequest> requests = new ArrayList<>();
    List<RecordingOutput> outputs = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      SequenceRequest r = request("r" + i, FakeEngine.tokens(3 + 5 * i, i), 4 + i);
      RecordingOutput out = new RecordingOutput();
      scheduler.submit(r, out);
      requests.add(r);
      outputs.add(out);
    }
    runToCompletion(outputs);
    for (int i = 0; i < requests.size(); i++) {
      assertThat(outputs.get(i).result.reason()).isEqualTo(FinishReason.LENGTH);
      assertThat(outputs.get(i).tokens).hasSize(4 + i).isEqualTo(alone(requests.get(i), Map.of()));
    }
    assertThat(engine.rowsPerStep.get(0))
        .as("the first step prefills all six prompts together")
        .isEqualTo(3 + 8 + 13 + 18 + 23 + 28);
    assertThat(engine.usedBlocks()).isZero();
    assertThat(scheduler.snapshot().running()).isZero();
  }

  @Test
  void admitsByPriorityThenVirtualTokenCounterThenArrival() {
    scheduler(1, 1000);
    List<String> finished = new ArrayList<>();
    List<RecordingOutput> outputs = new ArrayList<>();
    String[][] specs = {{"a", "0", "5"}, {"b", "0", "1"}, {"c", "1", "9"}, {"d", "0", "1"}};
    for (String[] spec : specs) {
      RecordingOutput out =
          new RecordingOutput() {
            @Override
            public void onFinish(SequenceResult result) {
              super.onFinish(result);
              finished.add(spec[0]);
            }
          };
      scheduler.submit(
          request(
              spec[0],
              null,
              FakeEngine.tokens(4, 1),
              2,
              Integer.parseInt(spec[1]),
              Double.parseDouble(spec[2])),
          out);
      outputs.add(out);
    }
    runToCompletion(outputs);
    assertThat(finished).containsExactly("c", "b", "d", "a");
  }

  @Test
  void prefillsLongPromptsInChunksBesideRunningDecodes() {
    scheduler(new FakeEngine(4, 4, 1000), 4, 16, 2, 256, Map.of());
    RecordingOutput decoding = new RecordingOutput();
    scheduler.submit(request("short", FakeEngine.tokens(2, 1), 30), decoding);
    scheduler.runOnce();
    scheduler.runOnce();
    assertThat(decoding.tokens).hasSize(2);
    RecordingOutput longPrompt = new RecordingOutput();
    scheduler.submit(request("long", FakeEngine.tokens(60, 2), 3), longPrompt);
    int before = decoding.tokens.size();
    for (int step = 0; step < 4; step++) {
      scheduler.runOnce();
    }
    // 60 prompt tokens at 15 per step (16 less the decode row) take four steps, and the decode
    // produced a token in each of them.
    assertThat(engine.rowsPerStep.subList(2, 6)).containsOnly(16);
    assertThat(decoding.tokens).hasSize(before + 4);
    assertThat(longPrompt.tokens).hasSize(1);
    runToCompletion(List.of(decoding, longPrompt));
    assertThat(longPrompt.tokens)
        .isEqualTo(alone(request("long", FakeEngine.tokens(60, 2), 3), Map.of()));
  }

  @Test
  void prefillBesideDecodesIsCappedAtThreeQuartersOfARowPerDecodeSoTokensKeepASteadyPace() {
    prefillChunk = 2;
    scheduler(new FakeEngine(8, 4, 1000), 8, 64, 2, 256, Map.of());
    List<RecordingOutput> decoding = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      RecordingOutput out = new RecordingOutput();
      scheduler.submit(request("d" + i, FakeEngine.tokens(2, i), 40), out);
      decoding.add(out);
    }
    scheduler.runOnce();
    RecordingOutput longPrompt = new RecordingOutput();
    scheduler.submit(request("long", FakeEngine.tokens(30, 9), 2), longPrompt);
    for (int step = 0; step < 10; step++) {
      scheduler.runOnce();
    }
    // four decode rows and at most 3/4 x max(4 decodes, chunk 2) = 3 prompt rows per step
    assertThat(engine.rowsPerStep.subList(1, 11)).containsOnly(7);
    assertThat(longPrompt.tokens).hasSize(1);
    runToCompletion(decoding);
  }

  @Test
  void preemptsTheYoungestWhenTheKvCacheRunsOutAndStillCompletesEveryRequest() {
    // 10 blocks of 4 tokens; each sequence grows to 6 + 20 = 26 tokens (7 blocks).
    scheduler(new FakeEngine(4, 4, 10), 4, 64, 2, 40, Map.of());
    List<SequenceRequest> requests = new ArrayList<>();
    List<RecordingOutput> outputs = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      SequenceRequest r = request("p" + i, FakeEngine.tokens(6, 10 + i), 20);
      RecordingOutput out = new RecordingOutput();
      scheduler.submit(r, out);
      requests.add(r);
      outputs.add(out);
    }
    runToCompletion(outputs);
    int preemptions = 0;
    for (int i = 0; i < 4; i++) {
      assertThat(outputs.get(i).failure).isNull();
      assertThat(outputs.get(i).result.reason()).isEqualTo(FinishReason.LENGTH);
      assertThat(outputs.get(i).tokens).isEqualTo(alone(requests.get(i), Map.of()));
      preemptions += outputs.get(i).result.preemptions();
    }
    assertThat(preemptions).isPositive();
    assertThat(outputs.get(0).result.preemptions()).as("the oldest is never the victim").isZero();
    assertThat(engine.usedBlocks()).isZero();
  }

  @Test
  void cancellationFreesTheSequenceWithinOneStep() {
    scheduler(4, 1000);
    RecordingOutput running = new RecordingOutput();
    Sequence seq = scheduler.submit(request("c", FakeEngine.tokens(9, 3), 100), running);
    scheduler.runOnce();
    scheduler.runOnce();
    assertThat(engine.usedBlocks()).isEqualTo(3);
    scheduler.cancel(seq);
    scheduler.runOnce();
    assertThat(running.cancelled).isTrue();
    assertThat(engine.usedBlocks()).isZero();
    assertThat(scheduler.snapshot().running()).isZero();

    RecordingOutput queued = new RecordingOutput();
    scheduler.submit(request("q", FakeEngine.tokens(3, 3), 5), queued).cancel();
    scheduler.runOnce();
    assertThat(queued.cancelled).isTrue();
    assertThat(queued.tokens).isEmpty();
  }

  @Test
  void aFailedEngineStepFailsEachOfItsSequencesFreesTheirBlocksAndLaterRequestsRun() {
    scheduler(4, 1000);
    List<RecordingOutput> outputs = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      RecordingOutput out = new RecordingOutput();
      scheduler.submit(request("f" + i, FakeEngine.tokens(6 + i, i), 50), out);
      outputs.add(out);
    }
    scheduler.runOnce();
    assertThat(engine.usedBlocks()).as("the prompts are cached").isPositive();

    // Not an EngineException: a failure the step does not expect still ends with its sequences.
    engine.failNextDecode = new IllegalStateException("device lost");
    scheduler.runOnce();

    for (RecordingOutput out : outputs) {
      assertThat(out.failure).isEqualTo(Failure.ENGINE_ERROR);
      assertThat(out.failureMessage).contains("device lost");
    }
    assertThat(engine.usedBlocks()).isZero();
    assertThat(engine.kvStats().freeBlocks()).isEqualTo(1000);
    assertThat(scheduler.snapshot().running()).isZero();
    assertThat(scheduler.snapshot().usedKvBlocks()).isZero();

    RecordingOutput later = new RecordingOutput();
    scheduler.submit(request("later", FakeEngine.tokens(5, 9), 4), later);
    runToCompletion(List.of(later));
    assertThat(later.result.reason()).isEqualTo(FinishReason.LENGTH);
    assertThat(later.tokens).hasSize(4);
  }

  @Test
  void aSamplingFailureFailsOnlyItsSequenceAndTheOthersInTheStepFinish() {
    scheduler(4, 1000);
    List<SequenceRequest> requests = new ArrayList<>();
    List<RecordingOutput> outputs = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      SequenceRequest r = request("s" + i, FakeEngine.tokens(5 + i, i), 6);
      RecordingOutput out = new RecordingOutput();
      scheduler.submit(r, out);
      requests.add(r);
      outputs.add(out);
    }
    engine.failSampleSeed = requests.get(1).sampling().seed();
    runToCompletion(outputs);

    assertThat(outputs.get(1).failure).isEqualTo(Failure.ENGINE_ERROR);
    assertThat(outputs.get(1).failureMessage).contains("sampling failed", "no finite maximum");
    assertThat(outputs.get(1).tokens).isEmpty();
    for (int i : new int[] {0, 2}) {
      assertThat(outputs.get(i).result.reason()).isEqualTo(FinishReason.LENGTH);
      assertThat(outputs.get(i).tokens).isEqualTo(alone(requests.get(i), Map.of()));
    }
    assertThat(engine.usedBlocks()).isZero();
    assertThat(scheduler.snapshot().usedKvBlocks()).isZero();

    engine.failSampleSeed = Long.MIN_VALUE;
    RecordingOutput later = new RecordingOutput();
    scheduler.submit(request("later", FakeEngine.tokens(5, 9), 4), later);
    runToCompletion(List.of(later));
    assertThat(later.result.reason()).isEqualTo(FinishReason.LENGTH);
  }

  @Test
  void anOutputThatThrowsFailsItsOwnSequenceOnly() {
    scheduler(4, 1000);
    RecordingOutput broken =
        new RecordingOutput() {
          @Override
          public boolean onToken(int token, float logprob) {
            throw new IllegalStateException("detokenizer broke");
          }
        };
    RecordingOutput fine = new RecordingOutput();
    scheduler.submit(request("broken", FakeEngine.tokens(5, 1), 6), broken);
    scheduler.submit(request("fine", FakeEngine.tokens(5, 2), 6), fine);
    runToCompletion(List.of(broken, fine));

    assertThat(broken.failure).isEqualTo(Failure.ENGINE_ERROR);
    assertThat(broken.failureMessage).contains("detokenizer broke");
    assertThat(fine.result.reason()).isEqualTo(FinishReason.LENGTH);
    assertThat(fine.tokens).hasSize(6);
    assertThat(engine.usedBlocks()).isZero();
  }

  @Test
  void aStopTokenIdEndsTheSequenceAndIsBannedBeforeMinTokensWithTheEosTokens() {
    SequenceRequest plain = request("plain", FakeEngine.tokens(5, 7), 6);
    List<Integer> free = alone(plain, Map.of());
    int stopAt = free.get(2);
    scheduler(new FakeEngine(4, 4, 1000), 4, 64, 2, 256, Map.of());
    RecordingOutput out = new RecordingOutput();
    scheduler.submit(
        new SequenceRequest(
            "plain", null, plain.prompt(), plain.sampling(), 6, false, 0, 0, new int[] {stopAt}),
        out);
    runToCompletion(List.of(out));
    assertThat(out.result.reason()).isEqualTo(FinishReason.STOP);
    assertThat(out.tokens).isEqualTo(free.subList(0, free.indexOf(stopAt) + 1));
    assertThat(engine.lastSampled.endTokens()).containsExactlyInAnyOrder(FakeEngine.EOS, stopAt);
    assertThat(engine.lastSampled.promptLength()).isEqualTo(5);
    assertThat(engine.lastSampled.length()).isEqualTo(5 + out.tokens.size() - 1);
  }

  @Test
  void finishReasons() {
    scheduler(new FakeEngine(4, 4, 1000), 4, 64, 2, 20, Map.of());
    RecordingOutput length = new RecordingOutput();
    scheduler.submit(request("len", FakeEngine.tokens(5, 1), 3), length);
    RecordingOutput context = new RecordingOutput();
    scheduler.submit(
        new SequenceRequest(
            "ctx", null, FakeEngine.tokens(5, 2), SamplingParams.greedy(), 15, true, 0, 0),
        context);
    int[] stopToken = {-1};
    RecordingOutput stop = new RecordingOutput(t -> stopToken[0] < 0 && (stopToken[0] = t) >= 0);
    scheduler.submit(request("stop", FakeEngine.tokens(5, 3), 10), stop);
    runToCompletion(List.of(length, context, stop));
    assertThat(length.result.reason()).isEqualTo(FinishReason.LENGTH);
    assertThat(context.result.reason()).isEqualTo(FinishReason.CONTEXT_LENGTH);
    assertThat(context.result.completionTokens()).isEqualTo(15);
    assertThat(stop.result.reason()).isEqualTo(FinishReason.STOP_SEQUENCE);
    assertThat(stop.tokens).hasSize(1);

    engine.eosAtLength = 8;
    RecordingOutput eos = new RecordingOutput();
    scheduler.submit(request("eos", FakeEngine.tokens(5, 4), 10), eos);
    runToCompletion(List.of(eos));
    assertThat(eos.result.reason()).isEqualTo(FinishReason.STOP);
    assertThat(eos.tokens).endsWith(FakeEngine.EOS).hasSize(4);
    assertThat(eos.result.promptTokens()).isEqualTo(5);
    assertThat(eos.result.completionTokens()).isEqualTo(4);
  }

  @Test
  void loadsAdaptersOnFirstUseWithoutBlockingOthersAndEvictsLruAtTheCap() {
    Map<String, Path> adapters = Map.of("a", Path.of("/a"), "b", Path.of("/b"), "c", Path.of("/c"));
    FakeEngine fake = new FakeEngine(8, 4, 1000);
    adapters.keySet().forEach(name -> fake.adapterBytes.put(name, 4096L));
    hostBytes = 0; // no host tier: an evicted adapter is freed and read from disk again
    scheduler(fake, 8, 64, 2, 256, adapters);
    RecordingOutput a = new RecordingOutput();
    scheduler.submit(request("ra", "a", FakeEngine.tokens(4, 1), 3, 0, 0), a);
    RecordingOutput base = new RecordingOutput();
    scheduler.submit(request("rb", null, FakeEngine.tokens(4, 2), 3, 0, 0), base);
    scheduler.runOnce();
    assertThat(scheduler.snapshot().loadingAdapters()).containsExactly("a");
    assertThat(base.tokens).as("the base-model request runs while 'a' loads").hasSize(1);
    assertThat(a.tokens).isEmpty();
    runToCompletion(List.of(a, base));
    assertThat(scheduler.snapshot().residentAdapters()).containsExactly("a");

    // At the cap of two: 'c' waits in the host tier until 'a', the LRU idle adapter, makes way.
    RecordingOutput longB = new RecordingOutput();
    scheduler.submit(request("long-b", "b", FakeEngine.tokens(4, 3), 6, 0, 0), longB);
    RecordingOutput c = new RecordingOutput();
    scheduler.submit(request("rc", "c", FakeEngine.tokens(4, 4), 3, 0, 0), c);
    runToCompletion(List.of(longB, c));
    assertThat(engine.loads).containsExactly("a", "b", "c");
    assertThat(engine.frees).containsExactly("a");
    assertThat(scheduler.snapshot().residentAdapters()).containsExactlyInAnyOrder("b", "c");
    assertThat(c.tokens)
        .isEqualTo(alone(request("rc", "c", FakeEngine.tokens(4, 4), 3, 0, 0), adapters));

    // 'a' again: evicts the least recently used and reloads; same tokens as the first time.
    RecordingOutput again = new RecordingOutput();
    scheduler.submit(request("ra", "a", FakeEngine.tokens(4, 1), 3, 0, 0), again);
    runToCompletion(List.of(again));
    assertThat(again.tokens).isEqualTo(a.tokens);
    assertThat(engine.loads).containsExactly("a", "b", "c", "a");
    assertThat(engine.liveAdapters()).isEqualTo(2);
  }

  @Test
  void busyAdaptersCannotHoldEverySlotForever() {
    Map<String, Path> adapters = Map.of("hot", Path.of("/hot"), "cold", Path.of("/cold"));
    scheduler(new FakeEngine(8, 4, 1000), 8, 64, 1, 256, adapters);
    List<RecordingOutput> hot = new ArrayList<>();
    RecordingOutput first = new RecordingOutput();
    scheduler.submit(request("hot-0", "hot", FakeEngine.tokens(4, 0), 5, 0, 0), first);
    hot.add(first);
    RecordingOutput cold = new RecordingOutput();
    int steps = 0;
    while (!cold.done()) {
      if (steps == 3) {
        scheduler.submit(request("cold", "cold", FakeEngine.tokens(4, 1), 3, 0, 0), cold);
      }
      // a new request for the resident adapter every step keeps its slot busy
      RecordingOutput more = new RecordingOutput();
      scheduler.submit(request("hot-" + steps, "hot", FakeEngine.tokens(4, steps), 5, 0, 0), more);
      hot.add(more);
      scheduler.runOnce();
      List<Runnable> loads = new ArrayList<>(loaderQueue);
      loaderQueue.clear();
      loads.forEach(Runnable::run);
      assertThat(++steps).as("steps until the cold adapter is served").isLessThan(100);
    }
    assertThat(cold.result.reason()).isEqualTo(FinishReason.LENGTH);
    runToCompletion(hot);
    assertThat(hot).allSatisfy(o -> assertThat(o.result).isNotNull());
  }

  @Test
  void aFailedAdapterLoadFailsOnlyItsRequests() {
    Map<String, Path> adapters = Map.of("good", Path.of("/good"), "bad", Path.of("/broken"));
    scheduler(new FakeEngine(8, 4, 1000), 8, 64, 2, 256, adapters);
    RecordingOutput bad1 = new RecordingOutput();
    RecordingOutput bad2 = new RecordingOutput();
    RecordingOutput good = new RecordingOutput();
    scheduler.submit(request("b1", "bad", FakeEngine.tokens(4, 1), 3, 0, 0), bad1);
    scheduler.submit(request("g", "good", FakeEngine.tokens(4, 2), 3, 0, 0), good);
    scheduler.submit(request("b2", "bad", FakeEngine.tokens(4, 3), 3, 0, 0), bad2);
    runToCompletion(List.of(bad1, bad2, good));
    assertThat(bad1.failure).isEqualTo(Failure.ADAPTER_LOAD_FAILED);
    assertThat(bad1.failureMessage).contains("'bad'", "truncated header");
    assertThat(bad2.failure).isEqualTo(Failure.ADAPTER_LOAD_FAILED);
    assertThat(good.result.reason()).isEqualTo(FinishReason.LENGTH);
    assertThat(scheduler.snapshot().residentAdapters()).containsExactly("good");
    assertThat(scheduler.snapshot().loadingAdapters()).isEmpty();
  }

  @Test
  void anUnknownAdapterFailsAtAdmission() {
    scheduler(4, 1000);
    RecordingOutput out = new RecordingOutput();
    scheduler.submit(request("x", "nope", FakeEngine.tokens(4, 1), 3, 0, 0), out);
    scheduler.runOnce();
    assertThat(out.failure).isEqualTo(Failure.ADAPTER_NOT_FOUND);
  }

  @Test
  void residentAdaptersShareTheKvBudgetAndIdleOnesMakeRoom() {
    Map<String, Path> adapters = Map.of("big", Path.of("/big"));
    FakeEngine fake = new FakeEngine(4, 4, 20);
    fake.adapterBytes.put("big", 12 * 4096L); // stands for 12 of the 20 blocks
    scheduler(fake, 4, 64, 2, 80, adapters);
    RecordingOutput first = new RecordingOutput();
    scheduler.submit(request("f", "big", FakeEngine.tokens(4, 1), 2, 0, 0), first);
    runToCompletion(List.of(first));
    assertThat(scheduler.snapshot().freeKvBlocks()).isEqualTo(8);

    // Three sequences growing to 6 + 10 tokens (4 blocks each) need 12 blocks: the idle adapter
    // gives its share back before any sequence is preempted.
    List<RecordingOutput> outs = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      RecordingOutput out = new RecordingOutput();
      scheduler.submit(request("s" + i, FakeEngine.tokens(6, i), 10), out);
      outs.add(out);
    }
    runToCompletion(outs);
    assertThat(outs).allSatisfy(o -> assertThat(o.result.preemptions()).isZero());
    assertThat(scheduler.snapshot().residentAdapters()).isEmpty();
    assertThat(scheduler.snapshot().hostAdapters()).as("kept in host memory").isEqualTo(1);
    assertThat(engine.frees).isEmpty();
    assertThat(scheduler.snapshot().freeKvBlocks()).isEqualTo(20);
  }

  @Test
  void anAdapterBackFromTheHostTierIsNotReadAgainAndGivesTheSameTokens() {
    Map<String, Path> adapters = Map.of("a", Path.of("/a"), "b", Path.of("/b"));
    FakeEngine fake = new FakeEngine(8, 4, 1000);
    adapters.keySet().forEach(name -> fake.adapterBytes.put(name, 4096L));
    scheduler(fake, 8, 64, 1, 256, adapters); // a cap of one: each request evicts the other
    List<RecordingOutput> outs = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      RecordingOutput out = new RecordingOutput();
      String adapter = i % 2 == 0 ? "a" : "b";
      scheduler.submit(request("r-" + adapter, adapter, FakeEngine.tokens(4, 1), 3, 0, 0), out);
      runToCompletion(List.of(out));
      outs.add(out);
    }
    assertThat(engine.loads).as("each adapter's files read once").containsExactly("a", "b");
    assertThat(engine.frees).isEmpty();
    for (int i = 2; i < 6; i++) {
      assertThat(outs.get(i).tokens).isEqualTo(outs.get(i - 2).tokens);
    }
    assertThat(outs.get(0).tokens).isNotEqualTo(outs.get(1).tokens);
  }

  @Test
  void moreAdaptersThanTheBudgetHoldsRotateUnderLoadAndEveryRequestIsCorrect() {
    Map<String, Path> adapters = new java.util.LinkedHashMap<>();
    FakeEngine fake = new FakeEngine(4, 4, 40);
    for (int i = 0; i < 12; i++) {
      adapters.put("a" + i, Path.of("/a" + i));
      fake.adapterBytes.put("a" + i, 4 * 4096L); // 12 adapters of 4 blocks: 48 > 40 blocks
    }
    AtomicInteger poolEvictions = new AtomicInteger();
    AtomicInteger diskLoads = new AtomicInteger();
    TestLogs.quiet();
    engine = fake;
    scheduler =
        new Scheduler(
            fake,
            new Scheduler.Limits(
                4, 64, prefillChunk, Integer.MAX_VALUE, 1L << 30, 64, Set.of(FakeEngine.EOS)),
            new AdapterCatalog(adapters),
            loaderQueue::add,
            new SchedulerMetrics() {
              @Override
              public void adapterLoaded(AdapterSource source, long nanos) {
                if (source == AdapterSource.DISK) {
                  diskLoads.incrementAndGet();
                }
              }

              @Override
              public void adapterEvicted(AdapterTier from) {
                if (from == AdapterTier.POOL) {
                  poolEvictions.incrementAndGet();
                }
              }
            },
            () -> clock.addAndGet(1_000_000));
    List<SequenceRequest> requests = new ArrayList<>();
    List<RecordingOutput> outs = new ArrayList<>();
    for (int i = 0; i < 36; i++) {
      SequenceRequest r = request("r" + i, "a" + (i * 5 % 12), FakeEngine.tokens(8, i), 6, 0, 0);
      RecordingOutput out = new RecordingOutput();
      scheduler.submit(r, out);
      requests.add(r);
      outs.add(out);
    }
    runToCompletion(outs);
    for (int i = 0; i < outs.size(); i++) {
      assertThat(outs.get(i).result.reason()).isEqualTo(FinishReason.LENGTH);
      assertThat(outs.get(i).tokens)
          .as("request %d, adapter %s", i, requests.get(i).adapter())
          .isEqualTo(alone(requests.get(i), adapters));
    }
    assertThat(poolEvictions.get()).as("adapters rotated through the pool").isPositive();
    assertThat(diskLoads.get()).as("the host tier held every evicted one").isEqualTo(12);
    assertThat(scheduler.snapshot().residentAdapters().size() * 4L).isLessThanOrEqualTo(40);
  }

  @Test
  void idleAdaptersAreEvictedLeastRecentlyUsedFirstBeforeAnySequenceIsPreempted() {
    Map<String, Path> adapters =
        Map.of(
            "p", Path.of("/p"), "i1", Path.of("/i1"), "i2", Path.of("/i2"), "i3", Path.of("/i3"));
    FakeEngine fake = new FakeEngine(8, 4, 30);
    adapters.keySet().forEach(name -> fake.adapterBytes.put(name, 4 * 4096L)); // 4 blocks each
    scheduler(fake, 8, 64, Integer.MAX_VALUE, 112, adapters);
    for (String name : List.of("p", "i1", "i2", "i3")) {
      CompletableFuture<LoadedAdapter> loaded = scheduler.loadAdapter(name);
      scheduler.runOnce();
      loaderQueue.remove(0).run();
      scheduler.runOnce();
      assertThat(loaded).isCompleted();
    }
    assertThat(scheduler.snapshot().residentAdapters()).containsExactly("p", "i1", "i2", "i3");

    // 'p' is pinned by a sequence growing to 34 tokens; three base sequences grow to 24 tokens (6
    // blocks each). When they end, p's sequence holds 23 tokens (6 blocks): 18 + 6 + 4 for 'p' is
    // 28 blocks of 30, so every idle adapter must go (one more would make 32). They go oldest
    // first, and no sequence is preempted.
    List<RecordingOutput> outs = new ArrayList<>();
    RecordingOutput pinned = new RecordingOutput();
    scheduler.submit(request("p", "p", FakeEngine.tokens(4, 9), 30, 0, 0), pinned);
    outs.add(pinned);
    scheduler.runOnce();
    List<String> evictedFirst = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      RecordingOutput out = new RecordingOutput();
      scheduler.submit(request("s" + i, FakeEngine.tokens(6, i), 18), out);
      outs.add(out);
    }
    while (!outs.stream().allMatch(RecordingOutput::done)) {
      List<String> before = scheduler.snapshot().residentAdapters();
      scheduler.runOnce();
      for (String name : before) {
        if (!scheduler.snapshot().residentAdapters().contains(name)) {
          evictedFirst.add(name);
        }
      }
      assertThat(scheduler.snapshot().residentAdapters()).contains("p");
    }
    assertThat(evictedFirst).containsExactly("i1", "i2", "i3");
    assertThat(outs).allSatisfy(o -> assertThat(o.result.preemptions()).isZero());
    assertThat(scheduler.snapshot().hostAdapters()).isEqualTo(3);
  }

  @Test
  void drainFinishesAdmittedRequestsAndRefusesNewOnes() {
    scheduler(2, 1000);
    List<RecordingOutput> outputs = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      RecordingOutput out = new RecordingOutput();
      scheduler.submit(request("d" + i, FakeEngine.tokens(4, i), 5), out);
      outputs.add(out);
    }
    scheduler.runOnce();
    CompletableFuture<Void> drained = scheduler.drain();
    assertThatThrownBy(
            () ->
                scheduler.submit(
                    request("late", FakeEngine.tokens(4, 9), 5), new RecordingOutput()))
        .isInstanceOf(RejectedExecutionException.class);
    assertThat(drained).isNotDone();
    runToCompletion(outputs);
    scheduler.runOnce();
    assertThat(drained).isDone();
    assertThat(outputs)
        .allSatisfy(o -> assertThat(o.result.reason()).isEqualTo(FinishReason.LENGTH));
    assertThat(scheduler.snapshot().draining()).isTrue();
  }

  @Test
  void explicitLoadAndUnload() {
    Map<String, Path> adapters = Map.of("a", Path.of("/a"));
    scheduler(new FakeEngine(4, 4, 1000), 4, 64, 1, 256, adapters);
    CompletableFuture<LoadedAdapter> loaded = scheduler.loadAdapter("a");
    scheduler.runOnce();
    loaderQueue.remove(0).run();
    scheduler.runOnce();
    assertThat(loaded).isCompleted();
    assertThat(loaded.join().rank()).isEqualTo(8);
    CompletableFuture<Boolean> unloaded = scheduler.unloadAdapter("a");
    scheduler.runOnce();
    assertThat(unloaded.join()).isTrue();
    assertThat(engine.liveAdapters()).isZero();
    CompletableFuture<Boolean> again = scheduler.unloadAdapter("a");
    scheduler.runOnce();
    assertThat(again.join()).isFalse();
    CompletableFuture<LoadedAdapter> unknown = scheduler.loadAdapter("zzz");
    scheduler.runOnce();
    assertThat(unknown).isCompletedExceptionally();
  }

  @Test
  void writesDeferredOnTheEngineThreadReachTheirLoopAsOneTaskPerPass() throws Exception {
    scheduler(8, 1000);
    // The "event loop": records each task it is handed and how many writes ran in it.
    List<Integer> writesPerTask = Collections.synchronizedList(new ArrayList<>());
    AtomicInteger running = new AtomicInteger();
    Executor loop =
        task -> {
          running.set(0);
          task.run();
          writesPerTask.add(running.get());
        };
    AtomicInteger deferred = new AtomicInteger();
    AtomicInteger refused = new AtomicInteger();
    List<RecordingOutput> outputs = new ArrayList<>();
    List<SequenceRequest> requests = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      requests.add(request("r" + i, new int[] {1, 2, 3}, 5));
      outputs.add(
          new RecordingOutput() {
            @Override
            public boolean onToken(int token, float logprob) {
              boolean later = scheduler.deferWrite(loop, running::incrementAndGet);
              (later ? deferred : refused).incrementAndGet();
              return super.onToken(token, logprob);
            }
          });
    }
    // Queued before the engine thread starts, so its first pass admits all four together.
    for (int i = 0; i < 4; i++) {
      scheduler.submit(requests.get(i), outputs.get(i));
    }
    assertThat(scheduler.deferWrite(loop, () -> {})).as("off the engine thread").isFalse();
    scheduler.start("test-engine");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!outputs.stream().allMatch(RecordingOutput::done) && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    scheduler.close();
    assertThat(outputs).allMatch(RecordingOutput::done);
    assertThat(refused.get()).as("writes on the engine thread are all deferred").isZero();
    assertThat(deferred.get()).isEqualTo(20);
    // Every write ran, in one task per pass: four sequences decoding together share each task.
    assertThat(writesPerTask.stream().mapToInt(Integer::intValue).sum()).isEqualTo(20);
    assertThat(writesPerTask).hasSize(5).allMatch(n -> n == 4);
  }
}
