package dev.flotilla.worker.engine;

import static dev.flotilla.worker.engine.EngineTestSupport.maxRelativeError;
import static dev.flotilla.worker.engine.EngineTestSupport.prefill;
import static dev.flotilla.worker.engine.EngineTestSupport.requireEngine;
import static dev.flotilla.worker.engine.EngineTestSupport.smallContext;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flotilla.testkit.Architecture;
import dev.flotilla.testkit.ConfigLayout;
import dev.flotilla.testkit.Dtype;
import dev.flotilla.testkit.GemmaSettings;
import dev.flotilla.testkit.LoraAdapterGenerator;
import dev.flotilla.testkit.ModelConfig;
import dev.flotilla.testkit.Projection;
import dev.flotilla.testkit.ReferenceModel;
import dev.flotilla.testkit.RopeScaling;
import dev.flotilla.testkit.TinyModelGenerator;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The engine against the testkit's independent plain-Java reference forward pass, on models and
 * adapters the testkit generates. Tolerance: 1e-4 of the largest logit for F32 weights; BF16
 * weights on the vdpbf16ps path round activations to BF16: 1e-2.
 */
class EngineReferenceTest {
  @TempDir static Path dir;

  @BeforeAll
  static void engine() {
    requireEngine();
  }

  private static final int[] PROMPT = {1, 17, 300, 5, 999, 42, 7, 7, 128, 64, 3, 512};

  @Test
  void llamaLogitsMatchTheReference() throws Exception {
    Path model = TinyModelGenerator.tiny().seed(3).generate(dir.resolve("llama")).directory();
    assertMatchesReference(model, null, 1e-4);
  }

  @Test
  void qwen2WithBiasesMatchesTheReference() throws Exception {
    Path model =
        TinyModelGenerator.tiny()
            .seed(4)
            .architecture(Architecture.QWEN2)
            .tieWordEmbeddings(true)
            .generate(dir.resolve("qwen2"))
            .directory();
    assertMatchesReference(model, null, 1e-4);
  }

  @Test
  void bothConfigLayoutsGiveTheSameLogits() throws Exception {
    // transformers 5 writes RoPE as rope_parameters (rope_theta inside), transformers 4 as
    // top-level rope_theta + rope_scaling: the same Llama-3-style model either way
    Path v4 =
        TinyModelGenerator.tiny()
            .seed(11)
            .ropeTheta(500000)
            .ropeScaling(RopeScaling.llama3(8.0, 1.0, 4.0, 4))
            .generate(dir.resolve("layout-v4"))
            .directory();
    Path v5 = Files.createDirectories(dir.resolve("layout-v5"));
    Files.copy(v4.resolve("model.safetensors"), v5.resolve("model.safetensors"));
    ModelConfig.read(v4).withLayout(ConfigLayout.ROPE_PARAMETERS).write(v5);
    assertThat(Files.readString(v5.resolve("config.json")))
        .contains("rope_parameters")
        .doesNotContain("rope_scaling");
    float[][] top = engineLogits(v4, null);
    assertThat(engineLogits(v5, null)).isDeepEqualTo(top);
    assertMatchesReference(v5, null, 1e-4);
    Path adapter =
        LoraAdapterGenerator.forBase(v5)
            .seed(12)
            .rank(4)
            .alpha(8)
            .generate(dir.resolve("layout-adapter"))
            .directory();
    assertThat(engineLogits(v5, adapter)).isDeepEqualTo(engineLogits(v4, adapter));
    assertMatchesReference(v5, adapter, 1e-4);
  }

  @Test
  void aKeyThatChangesTheMathsAndIsNotComputedIsRefusedByName() throws Exception {
    Path model = TinyModelGenerator.tiny().seed(13).generate(dir.resolve("capped")).directory();
    String config = Files.readString(model.resolve("config.json"));
    Files.writeString(
        model.resolve("config.json"),
        config.replaceFirst("\\{", "{\n  \"final_logit_softcapping\": 30.0,"));
    assertThatThrownBy(() -> Model.load(model))
        .isInstanceOf(UnsupportedModelException.class)
        .hasMessageContaining("final_logit_softcapping");
    Files.writeString(
        model.resolve("config.json"),
        config.replace(
            "\"rope_scaling\" : null",
            "\"rope_scaling\" : {\"rope_type\": \"yarn\", \"factor\": 4.0}"));
    assertThatThrownBy(() -> Model.load(model))
        .isInstanceOf(UnsupportedModelException.class)
        .hasMessageContaining("yarn");
  }

  @Test
  void qwen3WithHeadNormsMatchesTheReference() throws Exception {
    Path model =
        TinyModelGenerator.tiny()
            .seed(14)
            .architecture(Architecture.QWEN3)
            .headDim(48)
            .ropeTheta(1000000)
            .layout(ConfigLayout.ROPE_PARAMETERS)
            .generate(dir.resolve("qwen3"))
            .directory();
    assertMatchesReference(model, null, 1e-4);
    Path adapter =
        LoraAdapterGenerator.forBase(model)
            .seed(15)
            .rank(8)
            .alpha(16)
            .targets(Projection.unfused())
            .generate(dir.resolve("qwen3-adapter"))
            .directory();
    assertMatchesReference(model, adapter, 1e-4);
  }

  @Test
  void qwen3Bf16TiedMatchesTheReference() throws Exception {
    Path model =
        TinyModelGenerator.tiny()
            .seed(16)
            .architecture(Architecture.QWEN3)
            .headDim(64)
            .tieWordEmbeddings(true)
            .dtype(Dtype.BF16)
            .generate(dir.resolve("qwen3-bf16"))
            .directory();
    double tol = NativeEngine.roundsBf16Activations() ? 1e-2 : 1e-4;
    assertMatchesReference(model, null, tol);
  }

  @Test
  void mistralSlidingWindowMatchesTheReference() throws Exception {
    Path model =
        TinyModelGenerator.tiny()
            .seed(17)
            .architecture(Architecture.MISTRAL)
            .slidingWindow(4)
            .generate(dir.resolve("mistral-window"))
            .directory();
    assertMatchesReference(model, null, 1e-4);
  }

  @Test
  void phi3FusedProjectionsAndAdapterMatchTheReference() throws Exception {
    Path model =
        TinyModelGenerator.tiny()
            .seed(30)
            .architecture(Architecture.PHI3)
            .slidingWindow(5)
            .generate(dir.resolve("phi3"))
            .directory();
    assertMatchesReference(model, null, 1e-4);
    Path adapter =
        LoraAdapterGenerator.forBase(model)
            .seed(31)
            .rank(8)
            .alpha(16)
            .targets(
                Projection.QKV_PROJ,
                Projection.O_PROJ,
                Projection.GATE_UP_PROJ,
                Projection.DOWN_PROJ)
            .generate(dir.resolve("phi3-adapter"))
            .directory();
    assertMatchesReference(model, adapter, 1e-4);
    Path bf16 =
        TinyModelGenerator.tiny()
            .seed(32)
            .architecture(Architecture.PHI3)
            .dtype(Dtype.BF16)
            .generate(dir.resolve("phi3-bf16"))
            .directory();
    assertMatchesReference(bf16, null, NativeEngine.roundsBf16Activations() ? 1e-2 : 1e-4);
  }

  @Test
  void gemma2MatchesTheReference() throws Exception {
    // caps small enough to bend the scores and logits of a tiny model; a window of 5 over the
    // 12-token prompt in layers 0 and 2
    Path model =
        TinyModelGenerator.tiny()
            .seed(33)
            .architecture(Architecture.GEMMA2)
            .gemma(GemmaSettings.gemma2(24).withSoftcapping(2.0, 3.0))
            .slidingWindow(5)
            .tieWordEmbeddings(true)
            .generate(dir.resolve("gemma2"))
            .directory();
    assertMatchesReference(model, null, 1e-4);
    Path adapter =
        LoraAdapterGenerator.forBase(model)
            .seed(34)
            .rank(8)
            .alpha(16)
            .targets(Projection.unfused())
            .generate(dir.resolve("gemma2-adapter"))
            .directory();
    assertMatchesReference(model, adapter, 1e-4);
    Path bf16 =
        TinyModelGenerator.tiny()
            .seed(35)
            .architecture(Architecture.GEMMA2)
            .slidingWindow(5)
            .tieWordEmbeddings(true)
            .dtype(Dtype.BF16)
            .generate(dir.resolve("gemma2-bf16"))
            .directory();
    assertMatchesReference(bf16, null, NativeEngine.roundsBf16Activations() ? 1e-2 : 1e-4);
  }

  @Test
  void gemma3MatchesTheReferenceInBothLayouts() throws Exception {
    for (ConfigLayout layout : ConfigLayout.values()) {
      // layers 0, 1 and 3 slide at theta 10000, layer 2 is global at 1e6 with linear scaling
      Path model =
          TinyModelGenerator.tiny()
              .seed(36)
              .architecture(Architecture.GEMMA3)
              .gemma(GemmaSettings.gemma3(32).withSlidingWindowPattern(3))
              .slidingWindow(4)
              .ropeTheta(1000000)
              .ropeScalingFactor(8)
              .tieWordEmbeddings(true)
              .layout(layout)
              .generate(dir.resolve("gemma3-" + layout))
              .directory();
      assertMatchesReference(model, null, 1e-4);
      Path adapter =
          LoraAdapterGenerator.forBase(model)
              .seed(37)
              .rank(4)
              .alpha(8)
              .targets(Projection.Q_PROJ, Projection.V_PROJ, Projection.GATE_PROJ)
              .generate(dir.resolve("gemma3-adapter-" + layout))
              .directory();
      assertMatchesReference(model, adapter, 1e-4);
    }
    Path bf16 =
        TinyModelGenerator.tiny()
            .seed(38)
            .architecture(Architecture.GEMMA3)
            .gemma(GemmaSettings.gemma3(32).withSlidingWindowPattern(2).withSoftcapping(0, 5.0))
            .slidingWindow(3)
            .tieWordEmbeddings(true)
            .dtype(Dtype.BF16)
            .generate(dir.resolve("gemma3-bf16"))
            .directory();
    assertMatchesReference(bf16, null, NativeEngine.roundsBf16Activations() ? 1e-2 : 1e-4);
  }

  @Test
  void phi3LongRopeMatchesTheReferenceWithinAndBeyondItsOriginalContext() throws Exception {
    // head_dim 32: 16 factors a table, distinct enough that the wrong table or a missing
    // attention factor (sqrt(1 + ln(512 / original) / ln(original)) here) moves the logits
    List<Double> shortFactor = new ArrayList<>();
    List<Double> longFactor = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      shortFactor.add(1.0 + 0.05 * i);
      longFactor.add(1.0 + 2.5 * i);
    }
    // the 12-token prompt in one forward pass: beyond an original context of 8 (the long table
    // for every position, as transformers takes it), within one of 16 (the short table)
    for (int original : new int[] {8, 16}) {
      Path model =
          TinyModelGenerator.tiny()
              .seed(40)
              .architecture(Architecture.PHI3)
              .ropeScaling(RopeScaling.longrope(shortFactor, longFactor, original))
              .generate(dir.resolve("phi3-longrope-" + original))
              .directory();
      assertMatchesReference(model, null, 1e-4);
    }
  }

  @Test
  void phi3LongRopeWithTablesOfTheWrongLengthIsRefusedByName() throws Exception {
    Path model =
        TinyModelGenerator.tiny()
            .seed(39)
            .architecture(Architecture.PHI3)
            .generate(dir.resolve("phi3-longrope"))
            .directory();
    String config = Files.readString(model.resolve("config.json"));
    Files.writeString(
        model.resolve("config.json"),
        config.replace(
            "\"rope_scaling\" : null",
            "\"rope_scaling\" : {\"type\": \"longrope\", \"short_factor\": [1.0],"
                + " \"long_factor\": [2.0]}"));
    // one factor per rotated pair of dimensions is needed
    assertThatThrownBy(() -> Model.load(model))
        .isInstanceOf(ModelFormatException.class)
        .hasMessageContaining("longrope")
        .hasMessageContaining("short_factor");
  }

  @Test
  void shardedBf16ModelMatchesTheReference() throws Exception {
    Path model =
        TinyModelGenerator.tiny()
            .seed(5)
            .dtype(Dtype.BF16)
            .shards(3)
            .generate(dir.resolve("bf16"))
            .directory();
    double tol = NativeEngine.roundsBf16Activations() ? 1e-2 : 1e-4;
    assertMatchesReference(model, null, tol);
  }

  @Test
  void adapterOnSomeLayersMatchesTheReference() throws Exception {
    Path model = TinyModelGenerator.tiny().seed(6).generate(dir.resolve("base")).directory();
    Path adapter =
        LoraAdapterGenerator.forBase(model)
            .seed(7)
            .rank(8)
            .alpha(16)
            .targets(Projection.Q_PROJ, Projection.V_PROJ, Projection.DOWN_PROJ)
            .layers(1, 3)
            .generate(dir.resolve("adapter"))
            .directory();
    assertMatchesReference(model, adapter, 1e-4);
  }

  @Test
  void bf16AdapterOnABf16ModelMatchesTheReference() throws Exception {
    // a BF16 model keeps its adapters as BF16: a BF16 adapter file is held exactly, so the
    // reference reads the same values
    Path model =
        TinyModelGenerator.tiny()
            .seed(9)
            .dtype(Dtype.BF16)
            .generate(dir.resolve("bf16-base"))
            .directory();
    Path adapter =
        LoraAdapterGenerator.forBase(model)
            .seed(10)
            .rank(8)
            .alpha(16)
            .dtype(Dtype.BF16)
            .generate(dir.resolve("bf16-adapter"))
            .directory();
    double tol = NativeEngine.roundsBf16Activations() ? 1e-2 : 1e-4;
    assertMatchesReference(model, adapter, tol);
  }

  @Test
  void greedyGenerationIsExact() throws Exception {
    Path modelDir = TinyModelGenerator.tiny().seed(8).generate(dir.resolve("greedy")).directory();
    int[] expected = ReferenceModel.load(modelDir).greedy(PROMPT, 8);
    try (Model model = Model.load(modelDir);
        EngineContext ctx = model.createContext(referenceContext())) {
      int vocab = model.info().vocabSize();
      float[][] logits = prefill(ctx, vocab, 0, PROMPT, null);
      ByteBuffer row = ctx.allocateLogits(1);
      for (int v = 0; v < vocab; v++) {
        row.putFloat(v * 4, logits[PROMPT.length - 1][v]);
      }
      int[] got = new int[8];
      Batch batch = new Batch(1);
      for (int step = 0; step < 8; step++) {
        got[step] = Sampler.sample(row, 0, vocab, SamplingParams.greedy(), step).token();
        batch.clear().add(got[step], 0, PROMPT.length + step, null, true);
        ctx.decode(batch, row);
      }
      // the reference stops after an end-of-sequence token; compare what it produced
      assertThat(expected).isNotEmpty();
      assertThat(java.util.Arrays.copyOf(got, expected.length)).containsExactly(expected);
    }
  }

  private static float[][] engineLogits(Path modelDir, Path adapterDir) throws Exception {
    try (Model model = Model.load(modelDir);
        EngineContext ctx = model.createContext(referenceContext());
        Adapter adapter = adapterDir == null ? null : model.loadAdapter(adapterDir)) {
      return prefill(ctx, model.info().vocabSize(), 0, PROMPT, adapter);
    }
  }

  private static void assertMatchesReference(Path modelDir, Path adapterDir, double tolerance)
      throws Exception {
    ReferenceModel reference = ReferenceModel.load(modelDir);
    if (adapterDir != null) {
      reference = reference.withAdapter(adapterDir);
    }
    double[][] expected = reference.logits(PROMPT);
    try (Model model = Model.load(modelDir);
        EngineContext ctx = model.createContext(referenceContext());
        Adapter adapter = adapterDir == null ? null : model.loadAdapter(adapterDir)) {
      float[][] got = prefill(ctx, model.info().vocabSize(), 0, PROMPT, adapter);
      assertThat(maxRelativeError(got, expected)).isLessThanOrEqualTo(tolerance);
    }
  }

  /**
   * An F32 KV cache: the reference computes in F32 and the tolerances hold the engine to it (the
   * BF16 cache, the default, is held to the F32 one by the native engine tests).
   */
  private static ContextParams referenceContext() {
    return smallContext().withKvDtype(KvDtype.F32);
  }
}
