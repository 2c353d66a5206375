package dev.flotilla.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReferenceModelTest {

  private static final int[] PROMPT = {
    TokenizerFiles.BOS_ID, 84, 104, 101, 300, 512, 77, 1000, 5, 42
  };

  @TempDir static Path dir;

  private static GeneratedModel tiny;
  private static ReferenceModel model;

  @BeforeAll
  static void generate() throws IOException {
    tiny = TinyModelGenerator.tiny().seed(21).generate(dir.resolve("tiny"));
    model = ReferenceModel.load(tiny.directory());
  }

  @Test
  void softmaxRowsAreProbabilityDistributions() {
    for (double[] row : model.logits(PROMPT)) {
      double[] p = ReferenceModel.softmax(row);
      assertThat(Arrays.stream(p).sum()).isCloseTo(1.0, within(1e-12));
      assertThat(Arrays.stream(p)).allMatch(v -> v > 0 && v < 1);
    }
  }

  @Test
  void logitsAreFiniteAndSpreadOut() {
    double[] last = model.lastLogits(PROMPT);
    assertThat(Arrays.stream(last)).hasSize(1024).allMatch(Double::isFinite);
    double mean = Arrays.stream(last).average().orElseThrow();
    double std =
        Math.sqrt(Arrays.stream(last).map(v -> (v - mean) * (v - mean)).average().orElseThrow());
    assertThat(std).as("logit spread").isBetween(0.5, 10.0);
    assertThat(Arrays.stream(ReferenceModel.softmax(last)).max().orElseThrow())
        .as("top probability: neither uniform nor one-hot")
        .isBetween(0.005, 0.9);
  }

  @Test
  void lastLogitsAreTheLastRowOfAllLogits() {
    double[][] all = model.logits(PROMPT);
    assertThat(model.lastLogits(PROMPT)).containsExactly(all[PROMPT.length - 1]);
  }

  @Test
  void outputAtAPositionDoesNotDependOnLaterTokens() {
    double[][] full = model.logits(PROMPT);
    int[] changedTail = PROMPT.clone();
    for (int t = 6; t < changedTail.length; t++) {
      changedTail[t] = (changedTail[t] + 123) % 1024;
    }
    double[][] other = model.logits(changedTail);
    for (int t = 0; t < 6; t++) {
      assertThat(other[t]).as("position %d", t).containsExactly(full[t]);
    }
    assertThat(other[6]).isNotEqualTo(full[6]);
    double[][] prefix = model.logits(Arrays.copyOf(PROMPT, 6));
    for (int t = 0; t < 6; t++) {
      assertThat(prefix[t]).containsExactly(full[t]);
    }
  }

  @Test
  void greedyDecodingDependsOnThePromptAndDoesNotCollapseToOneToken() {
    int[] first = model.greedy(PROMPT, 12);
    int[] second = model.greedy(new int[] {TokenizerFiles.BOS_ID, 600, 601, 602}, 12);
    assertThat(first).isNotEqualTo(second);
    assertThat(Arrays.stream(first).distinct().count()).isGreaterThan(2);
    assertThat(model.greedy(PROMPT, 12)).as("deterministic").containsExactly(first);
  }

  @Test
  void adapterWithZeroBGivesExactlyTheBaseLogits() throws IOException {
    GeneratedAdapter zero =
        LoraAdapterGenerator.forBase(tiny.config())
            .zeroB(true)
            .targets(Projection.unfused())
            .generate(dir.resolve("zero"));
    assertThat(model.withAdapter(zero.directory()).logits(PROMPT))
        .isDeepEqualTo(model.logits(PROMPT));
  }

  @Test
  void adapterChangesTheLogits() throws IOException {
    GeneratedAdapter adapter =
        LoraAdapterGenerator.forBase(tiny.config()).seed(8).generate(dir.resolve("visible"));
    double[] base = model.lastLogits(PROMPT);
    double[] adapted = model.withAdapter(adapter.directory()).lastLogits(PROMPT);
    assertThat(maxAbsDifference(base, adapted)).isGreaterThan(0.1);
  }

  @Test
  void mergedWeightsModelEqualsTheAdapterAppliedModel() throws IOException {
    for (boolean rslora : new boolean[] {false, true}) {
      GeneratedAdapter adapter =
          LoraAdapterGenerator.forBase(tiny.config())
              .seed(5)
              .rank(6)
              .alpha(12)
              .useRslora(rslora)
              .targets(Projection.unfused())
              .layers(0, 2)
              .dtype(Dtype.BF16)
              .generate(dir.resolve("adapter-" + rslora));
      GeneratedModel merged =
          model.mergedWeights(adapter.directory(), dir.resolve("merged-" + rslora), Dtype.F64);

      double[][] expected = model.withAdapter(adapter.directory()).logits(PROMPT);
      double[][] actual = ReferenceModel.load(merged.directory()).logits(PROMPT);
      for (int t = 0; t < PROMPT.length; t++) {
        assertThat(maxAbsDifference(expected[t], actual[t]))
            .as("rslora=%s position %d", rslora, t)
            .isLessThanOrEqualTo(1e-9 * maxAbs(expected[t]));
      }
      assertThat(maxAbsDifference(expected[PROMPT.length - 1], model.lastLogits(PROMPT)))
          .isGreaterThan(0.1);
    }
  }

  @Test
  void shardedAndSingleFileModelsGiveIdenticalLogits() throws IOException {
    GeneratedModel sharded =
        TinyModelGenerator.tiny().seed(21).shards(4).generate(dir.resolve("sharded"));
    assertThat(ReferenceModel.load(sharded.directory()).logits(PROMPT))
        .isDeepEqualTo(model.logits(PROMPT));
  }

  @Test
  void halfPrecisionStorageStaysCloseToFloat32() throws IOException {
    GeneratedModel bf16 =
        TinyModelGenerator.tiny().seed(21).dtype(Dtype.BF16).generate(dir.resolve("bf16"));
    double[] exact = model.lastLogits(PROMPT);
    double[] rounded = ReferenceModel.load(bf16.directory()).lastLogits(PROMPT);
    assertThat(maxAbsDifference(exact, rounded)).isGreaterThan(0).isLessThan(0.25 * maxAbs(exact));
  }

  @Test
  void ropeScalingLeavesPositionZeroAloneAndChangesLaterPositions() throws IOException {
    GeneratedModel scaled =
        TinyModelGenerator.tiny().seed(21).ropeScalingFactor(4.0).generate(dir.resolve("scaled"));
    double[][] plain = model.logits(PROMPT);
    double[][] stretched = ReferenceModel.load(scaled.directory()).logits(PROMPT);
    assertThat(stretched[0]).containsExactly(plain[0]);
    assertThat(maxAbsDifference(stretched[PROMPT.length - 1], plain[PROMPT.length - 1]))
        .isGreaterThan(1e-3);
  }

  @Test
  void longropeTakesItsShortTableWithinTheOriginalContextAndItsLongOneBeyond() throws IOException {
    // max_position_embeddings = original: the attention factor is 1, so a long table of 4s is
    // linear scaling by 4 and a short table of 1s is no scaling, each exactly
    int half = model.config().headDim() / 2;
    List<Double> ones = Collections.nCopies(half, 1.0);
    List<Double> fours = Collections.nCopies(half, 4.0);
    ReferenceModel fitting =
        longrope(RopeScaling.longrope(ones, fours, PROMPT.length), PROMPT.length, "lr-fits");
    assertThat(fitting.logits(PROMPT)).isDeepEqualTo(model.logits(PROMPT));
    ReferenceModel beyond =
        longrope(
            RopeScaling.longrope(ones, fours, PROMPT.length - 1), PROMPT.length - 1, "lr-beyond");
    GeneratedModel linear =
        TinyModelGenerator.tiny().seed(21).ropeScalingFactor(4.0).generate(dir.resolve("lr-lin"));
    assertThat(beyond.logits(PROMPT))
        .isDeepEqualTo(ReferenceModel.load(linear.directory()).logits(PROMPT));
  }

  @Test
  void longropeScalesCosAndSinByItsAttentionFactor() throws IOException {
    List<Double> ones = Collections.nCopies(model.config().headDim() / 2, 1.0);
    RopeScaling scaling = RopeScaling.longrope(ones, ones, 8);
    // transformers: sqrt(1 + ln(512 / 8) / ln(8)) = sqrt(3)
    assertThat(scaling.attentionFactor(512)).isCloseTo(Math.sqrt(3), within(1e-12));
    assertThat(scaling.attentionFactor(8)).isEqualTo(1.0);
    double[][] scaled = longrope(scaling, 512, "lr-factor").logits(PROMPT);
    // the same angles, but every score is 3 times as large: position 0 (one score) stays, later
    // positions change
    double[][] plain = model.logits(PROMPT);
    assertThat(scaled[0]).containsExactly(plain[0]);
    assertThat(maxAbsDifference(scaled[PROMPT.length - 1], plain[PROMPT.length - 1]))
        .isGreaterThan(1e-3);
  }

  private static ReferenceModel longrope(RopeScaling scaling, int maxPositions, String name)
      throws IOException {
    return ReferenceModel.load(
        TinyModelGenerator.tiny()
            .seed(21)
            .ropeScaling(scaling)
            .maxPositionEmbeddings(maxPositions)
            .generate(dir.resolve(name))
            .directory());
  }

  @Test
  void configLayoutDoesNotChangeTheModel() throws IOException {
    RopeScaling llama3 = RopeScaling.llama3(8.0, 1.0, 4.0, 4);
    double[][] topLevel =
        ReferenceModel.load(
                TinyModelGenerator.tiny()
                    .seed(21)
                    .ropeTheta(500000)
                    .ropeScaling(llama3)
                    .generate(dir.resolve("v4"))
                    .directory())
            .logits(PROMPT);
    double[][] ropeParameters =
        ReferenceModel.load(
                TinyModelGenerator.tiny()
                    .seed(21)
                    .ropeTheta(500000)
                    .ropeScaling(llama3)
                    .layout(ConfigLayout.ROPE_PARAMETERS)
                    .generate(dir.resolve("v5"))
                    .directory())
            .logits(PROMPT);
    assertThat(ropeParameters).isDeepEqualTo(topLevel);
    // and theta is read from inside rope_parameters: the old default gives other logits
    assertThat(
            maxAbsDifference(topLevel[PROMPT.length - 1], model.logits(PROMPT)[PROMPT.length - 1]))
        .isGreaterThan(1e-3);
  }

  @Test
  void slidingWindowForgetsOlderPositionsOnly() throws IOException {
    ReferenceModel full =
        ReferenceModel.load(
            TinyModelGenerator.tiny()
                .seed(22)
                .architecture(Architecture.MISTRAL)
                .generate(dir.resolve("mistral-full"))
                .directory());
    ReferenceModel windowed =
        ReferenceModel.load(
            TinyModelGenerator.tiny()
                .seed(22)
                .architecture(Architecture.MISTRAL)
                .slidingWindow(3)
                .generate(dir.resolve("mistral-window"))
                .directory());
    double[][] a = full.logits(PROMPT);
    double[][] b = windowed.logits(PROMPT);
    for (int t = 0; t < 3; t++) {
      assertThat(b[t]).containsExactly(a[t]);
    }
    assertThat(maxAbsDifference(a[PROMPT.length - 1], b[PROMPT.length - 1])).isGreaterThan(1e-3);
  }

  @Test
  void qwen3HeadNormsChangeTheLogits() throws IOException {
    GeneratedModel qwen3 =
        TinyModelGenerator.tiny()
            .seed(23)
            .architecture(Architecture.QWEN3)
            .headDim(48)
            .generate(dir.resolve("qwen3"));
    ModelWeights weights = ModelWeights.open(qwen3.directory());
    assertThat(weights.info(LlamaTensorNames.queryNorm(0)).dims()).containsExactly(48);
    assertThat(weights.info(LlamaTensorNames.keyNorm(3)).dims()).containsExactly(48);
    weights.close();
    ReferenceModel reference = ReferenceModel.load(qwen3.directory());
    // the same weights read as a Llama (no head norms) give other logits
    Path asLlama = dir.resolve("qwen3-as-llama");
    Files.createDirectories(asLlama);
    for (String file : List.of("model.safetensors", "tokenizer.json")) {
      Files.copy(qwen3.directory().resolve(file), asLlama.resolve(file));
    }
    ModelConfig llama = qwen3.config();
    Files.writeString(
        asLlama.resolve("config.json"),
        llama
            .toJson()
            .replace("Qwen3ForCausalLM", "LlamaForCausalLM")
            .replace("\"qwen3\"", "\"llama\""));
    double[] withNorms = reference.lastLogits(PROMPT);
    double[] without = ReferenceModel.load(asLlama).lastLogits(PROMPT);
    assertThat(maxAbsDifference(withNorms, without)).isGreaterThan(1e-3);
  }

  @Test
  void everyArchitectureAndTiedEmbeddingsRun() throws IOException {
    for (Architecture architecture : Architecture.values()) {
      GeneratedModel generated =
          TinyModelGenerator.tiny()
              .architecture(architecture)
              .tieWordEmbeddings(true)
              .numHiddenLayers(2)
              .dtype(Dtype.F16)
              .generate(dir.resolve("arch-" + architecture));
      double[] logits = ReferenceModel.load(generated.directory()).lastLogits(PROMPT);
      assertThat(Arrays.stream(logits))
          .as(architecture.name())
          .hasSize(1024)
          .allMatch(Double::isFinite);
    }
  }

  private static double maxAbsDifference(double[] a, double[] b) {
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      max = Math.max(max, Math.abs(a[i] - b[i]));
    }
    return max;
  }

  private static double maxAbs(double[] a) {
    return Arrays.stream(a).map(Math::abs).max().orElseThrow();
  }
}
