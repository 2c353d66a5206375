package dev.flotilla.worker.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flotilla.worker.TestLogs;
import dev.flotilla.worker.engine.LogitBias;
import dev.flotilla.worker.engine.SamplingParams;
import dev.flotilla.worker.scheduler.SequenceOutput.Failure;
import dev.flotilla.worker.scheduler.SequenceResult.FinishReason;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** A request's n choices over {@link FakeEngine}: admitted, cancelled and failed as one. */
class SchedulerChoicesTest {
  private final AtomicLong clock = new AtomicLong();
  private FakeEngine engine;
  private Scheduler scheduler;

  private Scheduler scheduler(int maxBatch) {
    TestLogs.quiet();
    engine = new FakeEngine(maxBatch, 4, 1000);
    scheduler =
        new Scheduler(
            engine,
            new Scheduler.Limits(maxBatch, 128, 32, 0, 0, 256, Set.of(FakeEngine.EOS)),
            new AdapterCatalog(Map.of()),
            Runnable::run,
            SchedulerMetrics.NONE,
            () -> clock.addAndGet(1_000_000));
    return scheduler;
  }

  private static SequenceRequest request(String id, int maxTokens) {
    return new SequenceRequest(
        id,
        null,
        FakeEngine.tokens(6, 3),
        new SamplingParams(0.7f, 0, 1f, 42),
        maxTokens,
        false,
        0,
        0);
  }

  private static List<RecordingOutput> outputs(int n) {
    List<RecordingOutput> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(new RecordingOutput());
    }
    return out;
  }

  private void runUntilDone(List<RecordingOutput> outputs) {
    for (int i = 0; i < 1000 && !outputs.stream().allMatch(RecordingOutput::done); i++) {
      scheduler.runOnce();
    }
    assertThat(outputs).allMatch(RecordingOutput::done);
  }

  @Test
  void eachChoiceFinishesWithItsOwnTokensAndTheIdsComeBack() {
    scheduler(8);
    List<RecordingOutput> out = outputs(4);
    scheduler.submit(request("r", 5), List.copyOf(out));
    runUntilDone(out);

    for (RecordingOutput o : out) {
      assertThat(o.result.reason()).isEqualTo(FinishReason.LENGTH);
      assertThat(o.result.promptTokens()).isEqualTo(6);
      assertThat(o.tokens).hasSize(5);
    }
    assertThat(out.get(0).tokens).isNotEqualTo(out.get(1).tokens); // seeds differ per choice
    assertThat(engine.usedBlocks()).isZero();
    // all 8 ids are free again: 8 single requests run in one step
    List<RecordingOutput> singles = outputs(8);
    for (int i = 0; i < 8; i++) {
      scheduler.submit(request("s" + i, 1), singles.get(i));
    }
    scheduler.runOnce();
    assertThat(singles).allMatch(o -> o.result != null);
  }

  @Test
  void oneChoiceFailingFailsEveryChoiceAndFreesTheirBlocks() {
    scheduler(8);
    List<RecordingOutput> out = outputs(3);
    engine.failSampleSeed = ChoiceSeeds.seed(42, 2);
    scheduler.submit(request("r", 5), List.copyOf(out));
    runUntilDone(out);

    assertThat(out).allMatch(o -> o.failure == Failure.ENGINE_ERROR && o.result == null);
    assertThat(engine.usedBlocks()).isZero();
    assertThat(scheduler.snapshot().running()).isZero();
  }

  @Test
  void cancellingTheRequestCancelsEveryChoiceBeforeAndAfterTheFork() {
    scheduler(8);
    List<RecordingOutput> waiting = outputs(4);
    Sequence queued = scheduler.submit(request("queued", 50), List.copyOf(waiting));
    queued.cancel();
    scheduler.runOnce();
    assertThat(waiting).allMatch(o -> o.cancelled);

    List<RecordingOutput> out = outputs(4);
    Sequence seq = scheduler.submit(request("r", 50), List.copyOf(out));
    scheduler.runOnce();
    scheduler.runOnce();
    assertThat(out).allMatch(o -> !o.tokens.isEmpty() && !o.done());
    scheduler.cancel(seq);
    scheduler.runOnce();
    assertThat(out).allMatch(o -> o.cancelled);
    assertThat(engine.usedBlocks()).isZero();
    assertThat(scheduler.snapshot().running()).isZero();
  }

  @Test
  void moreChoicesThanTheBatchHoldsAreRefused() {
    scheduler(4);
    assertThatThrownBy(() -> scheduler.submit(request("r", 5), List.copyOf(outputs(5))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("n = 5");
  }

  @Test
  void choiceSeedsDependOnTheSeedAndIndexOnly() {
    assertThat(ChoiceSeeds.seed(7, 0)).isEqualTo(7);
    assertThat(ChoiceSeeds.seed(7, 3)).isEqualTo(ChoiceSeeds.seed(7, 3));
    assertThat(ChoiceSeeds.seed(7, 1)).isNotEqualTo(ChoiceSeeds.seed(7, 2)).isNotEqualTo(7);
    assertThat(ChoiceSeeds.seed(8, 1)).isNotEqualTo(ChoiceSeeds.seed(7, 1));
  }

  /** Every sampling control of the sampling branch, with {@code seed}. */
  private static SamplingParams controls(long seed) {
    return new SamplingParams(
        0.7f, 5, 0.9f, seed, 0.5f, -0.25f, 1.2f, LogitBias.of(Map.of(7, -100f)), 2, 3);
  }

  @Test
  void aChoiceKeepsEverySamplingControlButTheSeed() {
    SequenceRequest r =
        new SequenceRequest(
            "r", "a", new int[] {1, 2}, controls(42), 8, true, 2, 1.5, new int[] {9});
    SequenceRequest c = ChoiceSeeds.forChoice(r, 2);
    assertThat(c.sampling()).isEqualTo(controls(ChoiceSeeds.seed(42, 2)));
    assertThat(c.stopTokenIds()).containsExactly(9);
    assertThat(c)
        .extracting(
            SequenceRequest::requestId,
            SequenceRequest::adapter,
            SequenceRequest::maxTokens,
            SequenceRequest::limitedByContext,
            SequenceRequest::priority,
            SequenceRequest::virtualTokenCounter,
            SequenceRequest::pooling)
        .containsExactly("r", "a", 8, true, 2, 1.5, null);
    assertThat(c.prompt()).containsExactly(1, 2);
  }

  @Test
  void eachChoiceSamplesWithTheRequestsControlsAndItsOwnTokens() {
    scheduler(8);
    List<RecordingOutput> out = outputs(3);
    int[] prompt = FakeEngine.tokens(6, 3);
    scheduler.submit(
        new SequenceRequest("r", null, prompt, controls(42), 5, false, 0, 0, new int[] {9}),
        List.copyOf(out));
    runUntilDone(out);

    for (int c = 0; c < 3; c++) {
      long seed = ChoiceSeeds.seed(42, c);
      List<FakeEngine.Sampled> calls =
          engine.samples.stream().filter(s -> s.params().seed() == seed).toList();
      List<Integer> own = out.get(c).tokens;
      assertThat(calls).hasSize(own.size());
      for (int i = 0; i < calls.size(); i++) {
        FakeEngine.Sampled call = calls.get(i);
        assertThat(call.params()).isEqualTo(controls(seed));
        assertThat(call.promptLength()).isEqualTo(prompt.length);
        // the shared prompt, then the tokens this choice generated before this one
        assertThat(Arrays.copyOf(call.tokens(), prompt.length)).containsExactly(prompt);
        assertThat(Arrays.stream(call.tokens(), prompt.length, call.tokens().length).boxed())
            .containsExactlyElementsOf(own.subList(0, i));
        assertThat(call.endTokens()).containsExactlyInAnyOrder(FakeEngine.EOS, 9);
      }
    }
    assertThat(out.get(1).tokens).isNotEqualTo(out.get(2).tokens);
  }
}
