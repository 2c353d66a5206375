package dev.flotilla.worker.engine;

import static dev.flotilla.worker.engine.EngineTestSupport.prefill;
import static dev.flotilla.worker.engine.EngineTestSupport.requireEngine;
import static dev.flotilla.worker.engine.EngineTestSupport.smallContext;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flotilla.testkit.Dtype;
import dev.flotilla.testkit.LoraAdapterGenerator;
import dev.flotilla.testkit.Projection;
import dev.flotilla.testkit.TinyModelGenerator;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Handles, typed errors, KV-cache capacity and sampling through the Java API. */
class EngineBehaviourTest {
  @TempDir static Path dir;
  static Path modelDir;

  @BeforeAll
  static void model() throws Exception {
    requireEngine();
    modelDir = TinyModelGenerator.tiny().seed(11).generate(dir.resolve("model")).directory();
  }

  @Test
  void reportsTheInstructionSet() {
    assertThat(NativeEngine.isAvailable()).isTrue();
    assertThat(NativeEngine.instructionSet())
        .isIn("avx512amx", "avx512bf16", "avx512", "avx2", "scalar");
  }

  @Test
  void aMissingCudaDeviceIsATypedFailureWithTheReason() {
    int gpus = Devices.cudaCount();
    if (gpus == 0) {
      assertThat(Devices.cudaUnavailableReason()).isNotBlank();
    }
    String missing = Devices.cuda(gpus);
    assertThatThrownBy(() -> Model.load(modelDir, missing))
        .isInstanceOf(DeviceUnavailableException.class)
        .hasMessageContaining(missing + " is not available");
    assertThatThrownBy(() -> Devices.cudaInfo(gpus)).isInstanceOf(DeviceUnavailableException.class);
    try (Model model = Model.load(modelDir, Devices.CPU)) {
      assertThat(model.info().device()).isEqualTo("cpu");
    }
    assertThat(Devices.isValid("cuda:12")).isTrue();
    assertThat(Devices.isValid("cuda:1024")).isFalse();
    assertThat(Devices.isValid("gpu")).isFalse();
  }

  @Test
  void closeIsIdempotentAndUseAfterCloseThrows() {
    Model model = Model.load(modelDir);
    EngineContext ctx = model.createContext(smallContext());
    model.close();
    // the context keeps the native model alive
    assertThat(prefill(ctx, model.info().vocabSize(), 0, new int[] {1, 2, 3}, null))
        .hasNumberOfRows(3);
    ctx.close();
    ctx.close();
    model.close();
    assertThatThrownBy(() -> ctx.sequenceLength(0)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> model.createContext(smallContext()))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void loadFailuresAreTyped() throws Exception {
    assertThatThrownBy(() -> Model.load(dir.resolve("missing")))
        .isInstanceOf(EngineIoException.class);
    Path broken = Files.createDirectories(dir.resolve("broken"));
    Files.copy(modelDir.resolve("config.json"), broken.resolve("config.json"));
    Files.write(
        broken.resolve("model.safetensors"),
        new byte[] {(byte) 0xff, (byte) 0xff, 0, 0, 0, 0, 0, 0, '{'});
    assertThatThrownBy(() -> Model.load(broken))
        .isInstanceOf(ModelFormatException.class)
        .hasMessageContaining("model.safetensors");
    Path gpt = Files.createDirectories(dir.resolve("gpt"));
    Files.writeString(
        gpt.resolve("config.json"),
        Files.readString(modelDir.resolve("config.json"))
            .replace("LlamaForCausalLM", "GPTNeoXForCausalLM"));
    assertThatThrownBy(() -> Model.load(gpt))
        .isInstanceOf(UnsupportedModelException.class)
        .hasMessageContaining("GPTNeoXForCausalLM");
  }

  @Test
  void adapterForAnotherModelIsAMismatch() throws Exception {
    Path other =
        TinyModelGenerator.tiny()
            .seed(12)
            .hiddenSize(64)
            .headDim(16)
            .generate(dir.resolve("other"))
            .directory();
    Path adapter =
        LoraAdapterGenerator.forBase(other)
            .rank(4)
            .targets(Projection.Q_PROJ)
            .generate(dir.resolve("other-lora"))
            .directory();
    try (Model model = Model.load(modelDir)) {
      assertThatThrownBy(() -> model.loadAdapter(adapter))
          .isInstanceOf(AdapterMismatchException.class)
          .hasMessageContaining("q_proj");
    }
  }

  @Test
  void adaptersAreStoredInTheModelsComputeDtypeUnlessF32IsForced() throws Exception {
    Path bf16 =
        TinyModelGenerator.tiny()
            .seed(13)
            .dtype(Dtype.BF16)
            .generate(dir.resolve("bf16"))
            .directory();
    Path lora =
        LoraAdapterGenerator.forBase(bf16)
            .rank(4)
            .targets(Projection.Q_PROJ, Projection.DOWN_PROJ)
            .generate(dir.resolve("bf16-lora"))
            .directory();
    try (Model model = Model.load(bf16)) {
      ModelInfo info = model.info();
      // A [r, in] + B [out, r] of q_proj and down_proj in every layer
      long elements =
          4L
              * info.layers()
              * (info.hiddenSize()
                  + info.heads() * info.headDim()
                  + info.intermediateSize()
                  + info.hiddenSize());
      try (Adapter auto = model.loadAdapter(lora);
          Adapter f32 = model.loadAdapter(lora, AdapterStorage.F32)) {
        assertThat(auto.storageDtype()).isEqualTo("BF16");
        assertThat(auto.bytes()).isEqualTo(2 * elements);
        assertThat(f32.storageDtype()).isEqualTo("F32");
        assertThat(f32.bytes()).isEqualTo(4 * elements);
      }
    }
    Path f32Lora =
        LoraAdapterGenerator.forBase(modelDir)
            .rank(4)
            .targets(Projection.Q_PROJ)
            .generate(dir.resolve("f32-lora"))
            .directory();
    try (Model model = Model.load(modelDir);
        Adapter auto = model.loadAdapter(f32Lora)) {
      ModelInfo info = model.info();
      assertThat(auto.storageDtype()).isEqualTo("F32");
      assertThat(auto.bytes())
          .isEqualTo(4L * 4 * info.layers() * (info.hiddenSize() + info.heads() * info.headDim()));
    }
  }

  @Test
  void adapterStorageParsesAutoAndF32Only() {
    assertThat(AdapterStorage.parse(" F32 ")).isEqualTo(AdapterStorage.F32);
    assertThat(AdapterStorage.parse("auto")).isEqualTo(AdapterStorage.AUTO);
    assertThatThrownBy(() -> AdapterStorage.parse("bf16"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("auto or f32")
        .hasMessageContaining("'bf16'");
  }

  @Test
  void invalidRowsAndClosedAdaptersAreRejected() throws Exception {
    Path adapterDir =
        LoraAdapterGenerator.forBase(modelDir)
            .rank(4)
            .targets(Projection.Q_PROJ)
            .generate(dir.resolve("lora"))
            .directory();
    try (Model model = Model.load(modelDir);
        EngineContext ctx = model.createContext(smallContext())) {
      ByteBuffer logits = ctx.allocateLogits(2);
      Batch batch = new Batch(4);
      assertThatThrownBy(() -> ctx.decode(batch.clear().add(5000, 0, 0, null, true), logits))
          .isInstanceOf(InvalidEngineArgumentException.class)
          .hasMessageContaining("token id 5000");
      assertThatThrownBy(() -> ctx.decode(batch.clear().add(1, 0, 7, null, true), logits))
          .isInstanceOf(InvalidEngineArgumentException.class)
          .hasMessageContaining("position 7");
      Adapter adapter = model.loadAdapter(adapterDir);
      batch.clear().add(1, 0, 0, adapter, true);
      adapter.close();
      assertThatThrownBy(() -> ctx.decode(batch, logits))
          .isInstanceOf(InvalidEngineArgumentException.class)
          .hasMessageContaining("not loaded");
      assertThat(ctx.sequenceLength(0)).isZero();
    }
  }

  @Test
  void fullKvCacheThrowsAndChangesNothing() {
    try (Model model = Model.load(modelDir)) {
      ModelInfo info = model.info();
      // BF16, the default KV dtype: 2 bytes a value
      long bytesPerBlock = (long) info.layers() * 2 * 16 * info.kvHeads() * info.headDim() * 2;
      try (EngineContext ctx =
          model.createContext(smallContext().withKvBudgetBytes(2 * bytesPerBlock))) {
        assertThat(ctx.kvStats()).isEqualTo(new KvStats(16, 2, 2, bytesPerBlock));
        int[] prompt = new int[20];
        prefill(ctx, info.vocabSize(), 0, prompt, null); // 2 blocks
        assertThat(ctx.kvStats().freeBlocks()).isZero();
        assertThatThrownBy(() -> prefill(ctx, info.vocabSize(), 1, new int[] {1}, null))
            .isInstanceOf(KvCacheFullException.class);
        assertThat(ctx.sequenceLength(1)).isZero();
        ctx.freeSequence(0);
        assertThat(ctx.kvStats().freeBlocks()).isEqualTo(2);
        assertThat(prefill(ctx, info.vocabSize(), 1, new int[] {1}, null)).hasNumberOfRows(1);
      }
    }
  }

  @Test
  void aBf16KvCacheHoldsTwiceTheBlocksOfAnF32OneInTheSameBudget() {
    try (Model model = Model.load(modelDir)) {
      ModelInfo info = model.info();
      long f32Block = (long) info.layers() * 2 * 16 * info.kvHeads() * info.headDim() * 4;
      ContextParams params = smallContext().withKvBudgetBytes(3 * f32Block);
      assertThat(params.kvDtype()).isEqualTo(KvDtype.BF16);
      int[] prompt = new int[40]; // 3 blocks of 16
      try (EngineContext f32 = model.createContext(params.withKvDtype(KvDtype.F32));
          EngineContext bf16 = model.createContext(params)) {
        assertThat(f32.kvStats()).isEqualTo(new KvStats(16, 3, 3, f32Block));
        assertThat(bf16.kvStats()).isEqualTo(new KvStats(16, 6, 6, f32Block / 2));
        prefill(f32, info.vocabSize(), 0, prompt, null);
        assertThatThrownBy(() -> prefill(f32, info.vocabSize(), 1, prompt, null))
            .isInstanceOf(KvCacheFullException.class);
        prefill(bf16, info.vocabSize(), 0, prompt, null);
        prefill(bf16, info.vocabSize(), 1, prompt, null); // a second sequence fits
        assertThat(bf16.kvStats().freeBlocks()).isZero();
      }
    }
  }

  @Test
  void kvDtypeParsesBf16AndF32Only() {
    assertThat(KvDtype.parse(" BF16 ")).isEqualTo(KvDtype.BF16);
    assertThat(KvDtype.parse("f32")).isEqualTo(KvDtype.F32);
    assertThatThrownBy(() -> KvDtype.parse("f16"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("KV cache dtype must be bf16 or f32, got 'f16'");
  }

  @Test
  void samplingIsGreedyAtZeroTemperatureAndReproduciblePerSeed() {
    ByteBuffer logits = ByteBuffer.allocateDirect(4 * 4).order(java.nio.ByteOrder.nativeOrder());
    float[] values = {0.5f, 3f, 1f, 2.9f};
    for (int i = 0; i < 4; i++) {
      logits.putFloat(i * 4, values[i]);
    }
    SampledToken greedy = Sampler.sample(logits, 0, 4, SamplingParams.greedy(), 0);
    assertThat(greedy.token()).isEqualTo(1);
    double lse = 0;
    for (float v : values) {
      lse += Math.exp(v);
    }
    assertThat((double) greedy.logprob())
        .isCloseTo(3 - Math.log(lse), org.assertj.core.data.Offset.offset(1e-5));
    SamplingParams seeded = new SamplingParams(1f, 0, 1f, 77);
    for (long step = 0; step < 50; step++) {
      assertThat(Sampler.sample(logits, 0, 4, seeded, step))
          .isEqualTo(Sampler.sample(logits, 0, 4, seeded, step));
    }
    assertThat(Sampler.sample(logits, 0, 4, new SamplingParams(1f, 2, 1f, 5), 3).token())
        .isIn(1, 3);
    for (float t : new float[] {-1f, Float.NaN, Float.POSITIVE_INFINITY}) {
      assertThatThrownBy(() -> new SamplingParams(t, 0, 1f, 0))
          .as("temperature %s", t)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("temperature");
    }
    for (float p : new float[] {0f, 1.5f, Float.NaN}) {
      assertThatThrownBy(() -> new SamplingParams(1f, 0, p, 0))
          .as("top_p %s", p)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("top_p");
    }
    assertThatThrownBy(() -> Sampler.sample(logits, 1, 4, SamplingParams.greedy(), 0))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
