package dev.flotilla.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a random-weight Llama-family model in real Hugging Face layout: config.json,
 * generation_config.json, model.safetensors (or shards plus index), tokenizer.json and
 * tokenizer_config.json. The same settings and seed always give byte-identical files.
 *
 * <pre>{@code
 * GeneratedModel model = TinyModelGenerator.tiny().seed(7).dtype(Dtype.BF16).generate(dir);
 * }</pre>
 *
 * <p>Weights are streamed tensor by tensor in chunks, so {@link #medium()} (about 200 M parameters)
 * needs only a few megabytes of heap.
 */
public final class TinyModelGenerator {

  private static final int CHUNK = 1 << 16;

  private final ModelConfig config;
  private final long seed;
  private final int shards;

  private TinyModelGenerator(ModelConfig config, long seed, int shards) {
    this.config = config;
    this.seed = seed;
    this.shards = shards;
  }

  /**
   * About one million parameters, fast enough for a Java forward pass in milliseconds: hidden 128,
   * 4 layers, 4 query heads and 2 key/value heads of dim 32, intermediate 384, vocab 1024, float32.
   */
  public static Builder tiny() {
    return new Builder();
  }

  /**
   * About 200 M parameters for benchmarks, generated on demand (never commit it): hidden 1024, 12
   * layers, 16 query heads and 4 key/value heads of dim 64, intermediate 2816, vocab 32000,
   * bfloat16.
   */
  public static Builder medium() {
    return new Builder()
        .hiddenSize(1024)
        .intermediateSize(2816)
        .numHiddenLayers(12)
        .numAttentionHeads(16)
        .numKeyValueHeads(4)
        .headDim(64)
        .vocabSize(32000)
        .maxPositionEmbeddings(2048)
        .dtype(Dtype.BF16);
  }

  public ModelConfig config() {
    return config;
  }

  public long parameterCount() {
    return WeightPlan.of(config, config.torchDtype()).stream()
        .mapToLong(t -> t.spec().elementCount())
        .sum();
  }

  /**
   * Writes the model into {@code dir} (created if needed; existing model files are overwritten).
   */
  public GeneratedModel writeTo(Path dir) throws IOException {
    Files.createDirectories(dir);
    config.write(dir);
    writeGenerationConfig(dir);
    TokenizerFiles.write(dir, config.vocabSize(), config.maxPositionEmbeddings());

    List<WeightPlan.PlannedTensor> plan = WeightPlan.of(config, config.torchDtype());
    Map<String, WeightPlan.PlannedTensor> byName = new LinkedHashMap<>();
    plan.forEach(t -> byName.put(t.spec().name(), t));
    Map<String, List<TensorSpec>> files =
        ShardLayout.split(plan.stream().map(WeightPlan.PlannedTensor::spec).toList(), shards);

    List<Path> written = new ArrayList<>();
    for (Map.Entry<String, List<TensorSpec>> file : files.entrySet()) {
      Path path = dir.resolve(file.getKey());
      try (SafetensorsWriter out = SafetensorsWriter.create(path, file.getValue())) {
        for (TensorSpec spec : file.getValue()) {
          writeRandom(out, byName.get(spec.name()));
        }
      }
      written.add(path);
    }
    if (shards > 1) {
      ShardLayout.writeIndex(dir, files);
    }
    return new GeneratedModel(dir, config, written, parameterCount());
  }

  private void writeRandom(SafetensorsWriter out, WeightPlan.PlannedTensor tensor)
      throws IOException {
    SeededGaussian random = SeededGaussian.forTensor(seed, tensor.spec().name());
    float[] chunk = new float[CHUNK];
    long remaining = tensor.spec().elementCount();
    while (remaining > 0) {
      int n = (int) Math.min(CHUNK, remaining);
      for (int i = 0; i < n; i++) {
        chunk[i] = (float) (tensor.mean() + tensor.std() * random.nextGaussian());
      }
      out.write(chunk, 0, n);
      remaining -= n;
    }
  }

  private void writeGenerationConfig(Path dir) throws IOException {
    Files.writeString(
        dir.resolve("generation_config.json"),
        "{\n"
            + "  \"bos_token_id\": "
            + config.bosTokenId()
            + ",\n"
            + "  \"eos_token_id\": "
            + config.eosTokenId()
            + ",\n"
            + "  \"do_sample\": false,\n"
            + "  \"max_length\": "
            + config.maxPositionEmbeddings()
            + "\n"
            + "}\n");
  }

  /** Settings of a generated model; defaults are the {@link #tiny()} preset. */
  public static final class Builder {
    private long seed = 42;
    private int shards = 1;
    private Architecture architecture = Architecture.LLAMA;
    private int hiddenSize = 128;
    private int intermediateSize = 384;
    private int numHiddenLayers = 4;
    private int numAttentionHeads = 4;
    private int numKeyValueHeads = 2;
    private Integer headDim; // null: hidden_size / num_attention_heads, as transformers defaults it
    private double rmsNormEps = 1e-5;
    private double ropeTheta = 10000.0;
    private RopeScaling ropeScaling = RopeScaling.NONE;
    private int slidingWindow;
    private ConfigLayout layout = ConfigLayout.TOP_LEVEL_ROPE;
    private int vocabSize = 1024;
    private int maxPositionEmbeddings = 512;
    private boolean tieWordEmbeddings;
    private Dtype dtype = Dtype.F32;
    private GemmaSettings gemma; // null: the architecture's own (GemmaSettings.gemma2 / gemma3)

    private Builder() {}

    /**
     * Gemma's settings; by default Gemma 2's or Gemma 3's real ones with query_pre_attn_scalar =
     * head_dim.
     */
    public Builder gemma(GemmaSettings value) {
      gemma = value;
      return this;
    }

    public Builder seed(long value) {
      seed = value;
      return this;
    }

    /** Number of safetensors files; more than one also writes model.safetensors.index.json. */
    public Builder shards(int value) {
      shards = value;
      return this;
    }

    public Builder architecture(Architecture value) {
      architecture = value;
      return this;
    }

    public Builder hiddenSize(int value) {
      hiddenSize = value;
      return this;
    }

    public Builder intermediateSize(int value) {
      intermediateSize = value;
      return this;
    }

    public Builder numHiddenLayers(int value) {
      numHiddenLayers = value;
      return this;
    }

    public Builder numAttentionHeads(int value) {
      numAttentionHeads = value;
      return this;
    }

    public Builder numKeyValueHeads(int value) {
      numKeyValueHeads = value;
      return this;
    }

    public Builder headDim(int value) {
      headDim = value;
      return this;
    }

    public Builder rmsNormEps(double value) {
      rmsNormEps = value;
      return this;
    }

    public Builder ropeTheta(double value) {
      ropeTheta = value;
      return this;
    }

    /** Linear RoPE scaling (positions divided by the factor); 1.0 writes no rope_scaling. */
    public Builder ropeScalingFactor(double value) {
      ropeScaling = RopeScaling.linear(value);
      return this;
    }

    public Builder ropeScaling(RopeScaling value) {
      ropeScaling = value;
      return this;
    }

    /**
     * The attention window in positions of Mistral and Phi-3 (0, the default, writes null) and of
     * Gemma's sliding layers (0: 4096, Gemma's default).
     */
    public Builder slidingWindow(int value) {
      slidingWindow = value;
      return this;
    }

    /**
     * How config.json spells RoPE and the dtype; {@link ConfigLayout#TOP_LEVEL_ROPE} by default.
     */
    public Builder layout(ConfigLayout value) {
      layout = value;
      return this;
    }

    public Builder vocabSize(int value) {
      vocabSize = value;
      return this;
    }

    public Builder maxPositionEmbeddings(int value) {
      maxPositionEmbeddings = value;
      return this;
    }

    public Builder tieWordEmbeddings(boolean value) {
      tieWordEmbeddings = value;
      return this;
    }

    /** Storage dtype of every weight, and config.json torch_dtype. */
    public Builder dtype(Dtype value) {
      dtype = value;
      return this;
    }

    public TinyModelGenerator build() {
      if (shards < 1) {
        throw new IllegalArgumentException("shards must be at least 1, got " + shards);
      }
      int head = headDim != null ? headDim : hiddenSize / numAttentionHeads;
      GemmaSettings gemmaSettings = GemmaSettings.NONE;
      int window = slidingWindow;
      if (architecture.gemma()) {
        gemmaSettings =
            gemma != null
                ? gemma
                : architecture == Architecture.GEMMA2
                    ? GemmaSettings.gemma2(head)
                    : GemmaSettings.gemma3(head);
        window = window == 0 ? 4096 : window;
      }
      ModelConfig config =
          new ModelConfig(
              architecture,
              hiddenSize,
              intermediateSize,
              numHiddenLayers,
              numAttentionHeads,
              numKeyValueHeads,
              head,
              rmsNormEps,
              ropeTheta,
              ropeScaling,
              window,
              vocabSize,
              maxPositionEmbeddings,
              tieWordEmbeddings,
              dtype,
              TokenizerFiles.BOS_ID,
              TokenizerFiles.EOS_ID,
              layout,
              gemmaSettings);
      return new TinyModelGenerator(config, seed, shards);
    }

    /** Shorthand for {@code build().writeTo(dir)}. */
    public GeneratedModel generate(Path dir) throws IOException {
      return build().writeTo(dir);
    }
  }
}
