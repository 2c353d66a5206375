package dev.flotilla.worker.engine;

import static dev.flotilla.worker.engine.EngineTestSupport.requireEngine;
import static dev.flotilla.worker.engine.EngineTestSupport.smallContext;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.flotilla.testkit.TinyModelGenerator;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Penalties, logit bias, min_tokens and top logprobs through JNI on a tiny model's real logits,
 * against a plain-Java reference of vLLM's definitions.
 */
class SamplerEngineTest {
  @TempDir static Path dir;
  static int vocab;
  static ByteBuffer logits; // [1, vocab]: the next-token logits after a 6-token prompt
  static float[] row;

  @BeforeAll
  static void logits() throws Exception {
    requireEngine();
    Path modelDir = TinyModelGenerator.tiny().seed(23).generate(dir.resolve("model")).directory();
    try (Model model = Model.load(modelDir);
        EngineContext ctx = model.createContext(smallContext())) {
      vocab = model.info().vocabSize();
      int[] prompt = {1, 7, 3, 9, 7, 2};
      Batch batch = new Batch(prompt.length);
      for (int i = 0; i < prompt.length; i++) {
        batch.add(prompt[i], 0, i, null, i == prompt.length - 1);
      }
      logits = ctx.allocateLogits(1);
      ctx.decode(batch, logits);
      row = EngineTestSupport.rows(logits, 1, vocab)[0];
    }
  }

  @Test
  void greedyChoiceMatchesTheReferenceForRandomPenaltiesAndHistories() {
    Random random = new Random(5);
    for (int trial = 0; trial < 300; trial++) {
      int length = 1 + random.nextInt(40);
      int promptLength = random.nextInt(length + 1);
      int[] tokens = new int[length + 3]; // spare capacity the sampler must not read
      for (int i = 0; i < length; i++) {
        // draw mostly among the likeliest tokens so the penalties decide the argmax
        tokens[i] = random.nextInt(4) == 0 ? random.nextInt(vocab) : top(random.nextInt(5));
      }
      Map<Integer, Float> bias = new HashMap<>();
      for (int i = random.nextInt(3); i > 0; i--) {
        bias.put(random.nextInt(vocab), (float) (random.nextInt(401) - 200) / 2);
      }
      SamplingParams p =
          new SamplingParams(
              0f,
              0,
              1f,
              trial,
              (float) (random.nextDouble() * 4 - 2),
              (float) (random.nextDouble() * 4 - 2),
              (float) (0.5 + random.nextDouble() * 1.5),
              LogitBias.of(bias),
              0,
              0);
      SequenceTokens seq = new SequenceTokens(tokens, length, promptLength, new int[0]);
      int got = Sampler.sample(logits, 0, vocab, p, seq).token();
      float[] expected = reference(row, p, seq, bias);
      assertThat(expected[got])
          .as("trial %d: engine chose %d, reference argmax %d", trial, got, argmax(expected))
          .isCloseTo(expected[argmax(expected)], within(1e-4f));
    }
  }

  @Test
  void logitBiasMinus100BansTheGreedyToken() {
    int best = top(0);
    SamplingParams banned =
        new SamplingParams(0f, 0, 1f, 0, 0, 0, 1f, LogitBias.of(Map.of(best, -100f)), 0, 0);
    assertThat(Sampler.sample(logits, 0, vocab, banned, 0).token()).isEqualTo(top(1));
    SamplingParams hot =
        new SamplingParams(5f, 0, 1f, 0, 0, 0, 1f, LogitBias.of(Map.of(best, -100f)), 0, 0);
    for (long step = 0; step < 300; step++) {
      assertThat(Sampler.sample(logits, 0, vocab, hot, step).token()).isNotEqualTo(best);
    }
  }

  @Test
  void minTokensBansTheEndTokensUntilReached() {
    int[] ends = {top(0), top(1)};
    SamplingParams p = new SamplingParams(0f, 0, 1f, 0, 0, 0, 1f, LogitBias.NONE, 3, 0);
    int[] tokens = {1, 2, 3, 4, 5};
    // prompt of 3: two generated, the third still may not end
    assertThat(Sampler.sample(logits, 0, vocab, p, new SequenceTokens(tokens, 5, 3, ends)).token())
        .isEqualTo(top(2));
    // prompt of 2: three generated, the end tokens are allowed again
    assertThat(Sampler.sample(logits, 0, vocab, p, new SequenceTokens(tokens, 5, 2, ends)).token())
        .isEqualTo(top(0));
  }

  @Test
  void topLogprobsAreTheMostLikelyTokensUnderLogSoftmax() {
    double max = Double.NEGATIVE_INFINITY;
    for (float v : row) {
      max = Math.max(max, v);
    }
    double sum = 0;
    for (float v : row) {
      sum += Math.exp(v - max);
    }
    double lse = max + Math.log(sum);
    // penalties and bias change the draw, not the reported distribution
    SamplingParams p =
        new SamplingParams(
            0.8f, 0, 1f, 3, 1.5f, 0.5f, 1.3f, LogitBias.of(Map.of(top(0), -100f)), 0, 20);
    int[] tokens = {top(1), top(2), top(1)};
    SampledToken t =
        Sampler.sample(logits, 0, vocab, p, new SequenceTokens(tokens, 3, 1, new int[0]));
    List<TokenLogprob> top = t.top();
    assertThat(top).hasSize(20);
    for (int i = 0; i < 20; i++) {
      assertThat(top.get(i).token()).isEqualTo(top(i));
      assertThat((double) top.get(i).logprob()).isCloseTo(row[top(i)] - lse, within(1e-4));
    }
    assertThat((double) t.logprob()).isCloseTo(row[t.token()] - lse, within(1e-4));
    assertThat(t.token()).isNotEqualTo(top(0));
    assertThat(Sampler.sample(logits, 0, vocab, SamplingParams.greedy(), 0).top()).isEmpty();
  }

  @Test
  void outOfVocabularyBiasIsAnEngineError() {
    SamplingParams p =
        new SamplingParams(0f, 0, 1f, 0, 0, 0, 1f, LogitBias.of(Map.of(vocab, 1f)), 0, 0);
    assertThatThrownBy(() -> Sampler.sample(logits, 0, vocab, p, 0))
        .isInstanceOf(InvalidEngineArgumentException.class)
        .hasMessageContaining("bias_tokens");
    assertThatThrownBy(() -> LogitBias.of(Map.of(1, 100.5f)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("[-100, 100]");
    assertThatThrownBy(() -> new SamplingParams(0f, 0, 1f, 0, 2.5f, 0, 1f, LogitBias.NONE, 0, 0))
        .hasMessageContaining("presence_penalty");
    assertThatThrownBy(() -> new SamplingParams(0f, 0, 1f, 0, 0, 0, 0f, LogitBias.NONE, 0, 0))
        .hasMessageContaining("repetition_penalty");
    assertThatThrownBy(() -> new SamplingParams(0f, 0, 1f, 0, 0, 0, 1f, LogitBias.NONE, 0, 21))
        .hasMessageContaining("top_logprobs");
  }

  /** vLLM's order: bias (-100 bans), repetition over prompt and output, presence and frequency. */
  private static float[] reference(
      float[] logits, SamplingParams p, SequenceTokens seq, Map<Integer, Float> bias) {
    float[] l = logits.clone();
    bias.forEach((t, v) -> l[t] = v == -100f ? Float.NEGATIVE_INFINITY : l[t] + v);
    Map<Integer, Integer> generated = new HashMap<>();
    java.util.Set<Integer> seen = new java.util.HashSet<>();
    for (int i = 0; i < seq.length(); i++) {
      seen.add(seq.tokens()[i]);
      if (i >= seq.promptLength()) {
        generated.merge(seq.tokens()[i], 1, Integer::sum);
      }
    }
    for (int t : seen) {
      l[t] = l[t] > 0 ? l[t] / p.repetitionPenalty() : l[t] * p.repetitionPenalty();
    }
    generated.forEach((t, n) -> l[t] -= p.frequencyPenalty() * n + p.presencePenalty());
    return l;
  }

  private static int argmax(float[] l) {
    int best = 0;
    for (int i = 1; i < l.length; i++) {
      if (l[i] > l[best]) {
        best = i;
      }
    }
    return best;
  }

  /** The token of rank {@code rank} in the row (0 = most likely; ties: lower id first). */
  private static int top(int rank) {
    Integer[] ids = new Integer[vocab];
    for (int i = 0; i < vocab; i++) {
      ids[i] = i;
    }
    java.util.Arrays.sort(
        ids, (a, b) -> a.equals(b) ? 0 : row[a] != row[b] ? Float.compare(row[b], row[a]) : a - b);
    return ids[rank];
  }
}
