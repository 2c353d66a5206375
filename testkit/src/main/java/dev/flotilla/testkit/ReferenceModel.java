package dev.flotilla.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * An independent, deliberately naive forward pass of a Llama-family model, to check the native
 * engine against. Plain loops, every weight widened to double, every sum accumulated in double;
 * semantics as in Hugging Face transformers' {@code LlamaForCausalLM}, and Mistral (sliding
 * window), Qwen2 (q/k/v biases), Qwen3 (RMSNorm of each q and k head before RoPE), Phi-3 (fused
 * qkv_proj and gate_up_proj, sliding window, longrope) and Gemma 2 / 3 ({@code modeling_gemma2.py},
 * {@code modeling_gemma3.py}: scaled embeddings, (1 + w) norms before and after attention and MLP,
 * GeGLU with tanh GELU, query_pre_attn_scalar, soft-capping, sliding layers with their own RoPE) as
 * their modeling files differ from it. Meant for tiny models: it holds all weights as doubles.
 *
 * <pre>{@code
 * ReferenceModel model = ReferenceModel.load(dir).withAdapter(adapterDir);
 * double[][] logits = model.logits(new int[] {256, 72, 101});   // [position][vocab]
 * }</pre>
 */
public final class ReferenceModel {

  private final Path directory;
  private final ModelConfig config;
  private final double[] embedTokens; // (vocab, hidden)
  private final List<DecoderLayer> layers;
  private final double[] finalNorm; // (hidden)
  private final double[] lmHead; // (vocab, hidden); the embedding itself when tied
  private final Path adapterDirectory; // null without adapter

  /**
   * One decoder layer's weights; projections are stored [out, in], biases [out] or null; the
   * per-head q/k norms [head_dim] are null but on Qwen3 and Gemma 3. mlpNorm is Llama's
   * post_attention_layernorm, Gemma's pre_feedforward_layernorm; Gemma's post_attention_layernorm
   * and post_feedforward_layernorm (of the block outputs) are null elsewhere.
   */
  private record DecoderLayer(
      double[] inputNorm,
      double[] mlpNorm,
      Map<Projection, Linear> projections,
      double[] queryNorm,
      double[] keyNorm,
      double[] attentionOutputNorm,
      double[] mlpOutputNorm) {

    DecoderLayer withProjections(Map<Projection, Linear> adapted) {
      return new DecoderLayer(
          inputNorm, mlpNorm, adapted, queryNorm, keyNorm, attentionOutputNorm, mlpOutputNorm);
    }
  }

  /** y = W·x (+ b) (+ scale·B·(A·x)); A is (r, in), B is (out, r). */
  private record Linear(
      double[] weight,
      double[] bias,
      int out,
      int in,
      double[] loraA,
      double[] loraB,
      int rank,
      double loraScale) {

    Linear withLora(double[] a, double[] b, int r, double scale) {
      return new Linear(weight, bias, out, in, a, b, r, scale);
    }

    double[] apply(double[] x) {
      double[] y = new double[out];
      for (int o = 0; o < out; o++) {
        double sum = bias == null ? 0.0 : bias[o];
        int row = o * in;
        for (int i = 0; i < in; i++) {
          sum += weight[row + i] * x[i];
        }
        y[o] = sum;
      }
      if (loraA != null) {
        double[] shrunk = new double[rank];
        for (int k = 0; k < rank; k++) {
          double sum = 0.0;
          for (int i = 0; i < in; i++) {
            sum += loraA[k * in + i] * x[i];
          }
          shrunk[k] = sum;
        }
        for (int o = 0; o < out; o++) {
          double sum = 0.0;
          for (int k = 0; k < rank; k++) {
            sum += loraB[o * rank + k] * shrunk[k];
          }
          y[o] += loraScale * sum;
        }
      }
      return y;
    }
  }

  private ReferenceModel(
      Path directory,
      ModelConfig config,
      double[] embedTokens,
      List<DecoderLayer> layers,
      double[] finalNorm,
      double[] lmHead,
      Path adapterDirectory) {
    this.directory = directory;
    this.config = config;
    this.embedTokens = embedTokens;
    this.layers = layers;
    this.finalNorm = finalNorm;
    this.lmHead = lmHead;
    this.adapterDirectory = adapterDirectory;
  }

  /** Reads config.json and every weight (single file or shards, any dtype) of a model directory. */
  public static ReferenceModel load(Path modelDir) throws IOException {
    ModelConfig config = ModelConfig.read(modelDir);
    try (ModelWeights weights = ModelWeights.open(modelDir)) {
      double[] embed =
          read(weights, LlamaTensorNames.EMBED_TOKENS, config.vocabSize(), config.hiddenSize());
      List<DecoderLayer> layers = new ArrayList<>();
      for (int layer = 0; layer < config.numHiddenLayers(); layer++) {
        Map<Projection, Linear> projections = new EnumMap<>(Projection.class);
        for (Projection projection : config.architecture().projections()) {
          int out = projection.outFeatures(config);
          int in = projection.inFeatures(config);
          double[] bias =
              projection.hasBias(config) ? read(weights, projection.biasName(layer), out) : null;
          projections.put(
              projection,
              new Linear(
                  read(weights, projection.weightName(layer), out, in),
                  bias,
                  out,
                  in,
                  null,
                  null,
                  0,
                  0.0));
        }
        boolean qkNorm = config.architecture().qkNorm();
        boolean gemma = config.architecture().gemma();
        int hidden = config.hiddenSize();
        double[] postAttention =
            read(weights, LlamaTensorNames.postAttentionLayerNorm(layer), hidden);
        layers.add(
            new DecoderLayer(
                read(weights, LlamaTensorNames.inputLayerNorm(layer), hidden),
                gemma
                    ? read(weights, LlamaTensorNames.preFeedforwardLayerNorm(layer), hidden)
                    : postAttention,
                projections,
                qkNorm ? read(weights, LlamaTensorNames.queryNorm(layer), config.headDim()) : null,
                qkNorm ? read(weights, LlamaTensorNames.keyNorm(layer), config.headDim()) : null,
                gemma ? postAttention : null,
                gemma
                    ? read(weights, LlamaTensorNames.postFeedforwardLayerNorm(layer), hidden)
                    : null));
      }
      double[] norm = read(weights, LlamaTensorNames.FINAL_NORM, config.hiddenSize());
      double[] head =
          config.tieWordEmbeddings()
              ? embed
              : read(weights, LlamaTensorNames.LM_HEAD, config.vocabSize(), config.hiddenSize());
      return new ReferenceModel(modelDir, config, embed, List.copyOf(layers), norm, head, null);
    }
  }

  /**
   * This model with a PEFT LoRA adapter applied to its targeted projections; this model is
   * unchanged.
   */
  public ReferenceModel withAdapter(Path adapterDir) throws IOException {
    if (adapterDirectory != null) {
      throw new IllegalStateException("an adapter is already applied: " + adapterDirectory);
    }
    LoraConfig lora = LoraConfig.read(adapterDir);
    List<DecoderLayer> adapted = new ArrayList<>();
    try (SafetensorsReader reader =
        SafetensorsReader.open(adapterDir.resolve(LoraConfig.WEIGHTS_FILE))) {
      for (int layer = 0; layer < layers.size(); layer++) {
        DecoderLayer base = layers.get(layer);
        Map<Projection, Linear> projections = new EnumMap<>(base.projections());
        if (lora.adaptsLayer(layer)) {
          for (Projection projection : lora.targetModules()) {
            Linear linear = projections.get(projection);
            double[] a =
                readAdapter(
                    reader, LoraConfig.loraAName(projection, layer), lora.rank(), linear.in());
            double[] b =
                readAdapter(
                    reader, LoraConfig.loraBName(projection, layer), linear.out(), lora.rank());
            projections.put(projection, linear.withLora(a, b, lora.rank(), lora.scale()));
          }
        }
        adapted.add(base.withProjections(projections));
      }
    }
    return new ReferenceModel(
        directory, config, embedTokens, List.copyOf(adapted), finalNorm, lmHead, adapterDir);
  }

  public ModelConfig config() {
    return config;
  }

  /**
   * Logits for every position: row t is the next-token distribution (before softmax) after
   * tokens[0..t].
   */
  public double[][] logits(int[] tokens) {
    double[][] hidden = finalHiddenStates(tokens);
    double[][] logits = new double[tokens.length][];
    for (int t = 0; t < tokens.length; t++) {
      logits[t] = unembed(hidden[t]);
    }
    return logits;
  }

  /** Logits after the last token only, the ones that pick the next token. */
  public double[] lastLogits(int[] tokens) {
    double[][] hidden = finalHiddenStates(tokens);
    return unembed(hidden[tokens.length - 1]);
  }

  /**
   * A sentence-transformers embedding of the tokens: the final hidden states (after the final norm)
   * of the last token, or their mean over all tokens, scaled to unit length when {@code normalize}.
   */
  public double[] embedding(int[] tokens, boolean meanPooling, boolean normalize) {
    double[][] hidden = finalHiddenStates(tokens);
    double[] pooled;
    if (meanPooling) {
      pooled = new double[config.hiddenSize()];
      for (double[] row : hidden) {
        addInPlace(pooled, row);
      }
      for (int i = 0; i < pooled.length; i++) {
        pooled[i] /= hidden.length;
      }
    } else {
      pooled = hidden[tokens.length - 1].clone();
    }
    if (normalize) {
      double norm = 0;
      for (double v : pooled) {
        norm += v * v;
      }
      norm = Math.max(Math.sqrt(norm), 1e-12); // torch.nn.functional.normalize's eps
      for (int i = 0; i < pooled.length; i++) {
        pooled[i] /= norm;
      }
    }
    return pooled;
  }

  /**
   * Greedy decoding: appends the argmax token (lowest id on ties) {@code maxNewTokens} times,
   * stopping after the end-of-sequence token if one comes. Returns only the new tokens.
   */
  public int[] greedy(int[] prompt, int maxNewTokens) {
    int[] sequence = Arrays.copyOf(prompt, prompt.length + maxNewTokens);
    int length = prompt.length;
    while (length < sequence.length) {
      int next = argmax(lastLogits(Arrays.copyOf(sequence, length)));
      sequence[length++] = next;
      if (next == config.eosTokenId()) {
        break;
      }
    }
    return Arrays.copyOfRange(sequence, prompt.length, length);
  }

  /** Numerically stable softmax in double. */
  public static double[] softmax(double[] logits) {
    double max = Double.NEGATIVE_INFINITY;
    for (double v : logits) {
      max = Math.max(max, v);
    }
    double[] probabilities = new double[logits.length];
    double sum = 0.0;
    for (int i = 0; i < logits.length; i++) {
      probabilities[i] = Math.exp(logits[i] - max);
      sum += probabilities[i];
    }
    for (int i = 0; i < logits.length; i++) {
      probabilities[i] /= sum;
    }
    return probabilities;
  }

  public static int argmax(double[] values) {
    int best = 0;
    for (int i = 1; i < values.length; i++) {
      if (values[i] > values[best]) {
        best = i;
      }
    }
    return best;
  }

  /**
   * Writes a base-model directory whose projections are W + scale·B·A for the adapter's targets,
   * with every tensor stored as {@code dtype} (F64 keeps the merge exact; F32 for the engine).
   * Serving it without an adapter must match serving this model with the adapter.
   */
  public GeneratedModel mergedWeights(Path adapterDir, Path outDir, Dtype dtype)
      throws IOException {
    if (adapterDirectory != null) {
      throw new IllegalStateException("merge from the base model, not one with an adapter applied");
    }
    ReferenceModel adapted = withAdapter(adapterDir);
    Files.createDirectories(outDir);
    for (String file :
        List.of("tokenizer.json", "tokenizer_config.json", "generation_config.json")) {
      if (Files.exists(directory.resolve(file))) {
        Files.copy(
            directory.resolve(file), outDir.resolve(file), StandardCopyOption.REPLACE_EXISTING);
      }
    }
    ModelConfig mergedConfig = config.withTorchDtype(dtype);
    mergedConfig.write(outDir);

    List<TensorSpec> specs = new ArrayList<>();
    List<double[]> values = new ArrayList<>();
    int hidden = config.hiddenSize();
    specs.add(TensorSpec.of(LlamaTensorNames.EMBED_TOKENS, dtype, config.vocabSize(), hidden));
    values.add(embedTokens);
    for (int layer = 0; layer < layers.size(); layer++) {
      DecoderLayer decoder = adapted.layers.get(layer);
      specs.add(TensorSpec.of(LlamaTensorNames.inputLayerNorm(layer), dtype, hidden));
      values.add(decoder.inputNorm());
      if (decoder.attentionOutputNorm() != null) {
        specs.add(TensorSpec.of(LlamaTensorNames.postAttentionLayerNorm(layer), dtype, hidden));
        values.add(decoder.attentionOutputNorm());
        specs.add(TensorSpec.of(LlamaTensorNames.preFeedforwardLayerNorm(layer), dtype, hidden));
        values.add(decoder.mlpNorm());
        specs.add(TensorSpec.of(LlamaTensorNames.postFeedforwardLayerNorm(layer), dtype, hidden));
        values.add(decoder.mlpOutputNorm());
      } else {
        specs.add(TensorSpec.of(LlamaTensorNames.postAttentionLayerNorm(layer), dtype, hidden));
        values.add(decoder.mlpNorm());
      }
      for (Projection projection : config.architecture().projections()) {
        Linear linear = decoder.projections().get(projection);
        specs.add(TensorSpec.of(projection.weightName(layer), dtype, linear.out(), linear.in()));
        values.add(merged(linear));
        if (linear.bias() != null) {
          specs.add(TensorSpec.of(projection.biasName(layer), dtype, linear.out()));
          values.add(linear.bias());
        }
        if (projection == Projection.O_PROJ && decoder.queryNorm() != null) {
          specs.add(TensorSpec.of(LlamaTensorNames.queryNorm(layer), dtype, config.headDim()));
          values.add(decoder.queryNorm());
          specs.add(TensorSpec.of(LlamaTensorNames.keyNorm(layer), dtype, config.headDim()));
          values.add(decoder.keyNorm());
        }
      }
    }
    specs.add(TensorSpec.of(LlamaTensorNames.FINAL_NORM, dtype, hidden));
    values.add(finalNorm);
    if (!config.tieWordEmbeddings()) {
      specs.add(TensorSpec.of(LlamaTensorNames.LM_HEAD, dtype, config.vocabSize(), hidden));
      values.add(lmHead);
    }
    Path file = outDir.resolve(ShardLayout.SINGLE_FILE);
    SafetensorsWriter.writeAll(file, specs, values);
    long parameters = specs.stream().mapToLong(TensorSpec::elementCount).sum();
    return new GeneratedModel(outDir, mergedConfig, List.of(file), parameters);
  }

  // ---- forward pass ----------------------------------------------------------------------------

  private double[][] finalHiddenStates(int[] tokens) {
    if (tokens.length == 0) {
      throw new IllegalArgumentException("need at least one token");
    }
    int hidden = config.hiddenSize();
    double[][] x = new double[tokens.length][]; // (seq, hidden): the residual stream
    for (int t = 0; t < tokens.length; t++) {
      int token = tokens[t];
      if (token < 0 || token >= config.vocabSize()) {
        throw new IllegalArgumentException(
            "token " + token + " outside vocabulary of " + config.vocabSize());
      }
      x[t] = Arrays.copyOfRange(embedTokens, token * hidden, (token + 1) * hidden);
      if (config.architecture().gemma()) {
        // transformers multiplies by sqrt(hidden_size) as a tensor of the activation dtype
        double normalizer = HalfFloats.roundTo(config.torchDtype(), (float) Math.sqrt(hidden));
        for (int i = 0; i < hidden; i++) {
          x[t][i] *= normalizer;
        }
      }
    }
    for (int index = 0; index < layers.size(); index++) {
      DecoderLayer layer = layers.get(index);
      double[][] attention = attention(layer, index, x);
      for (int t = 0; t < x.length; t++) {
        addInPlace(
            x[t],
            layer.attentionOutputNorm() == null
                ? attention[t]
                : rmsNorm(attention[t], layer.attentionOutputNorm()));
      }
      for (int t = 0; t < x.length; t++) {
        double[] out = mlp(layer, rmsNorm(x[t], layer.mlpNorm()));
        addInPlace(x[t], layer.mlpOutputNorm() == null ? out : rmsNorm(out, layer.mlpOutputNorm()));
      }
    }
    double[][] out = new double[x.length][];
    for (int t = 0; t < x.length; t++) {
      out[t] = rmsNorm(x[t], finalNorm);
    }
    return out;
  }

  /**
   * Causal grouped-query self-attention over the whole sequence (within the sliding window when the
   * config sets one), q and k head-normed (Qwen3) then rotated.
   */
  private double[][] attention(DecoderLayer layer, int index, double[][] x) {
    int seq = x.length;
    int heads = config.numAttentionHeads();
    int headDim = config.headDim();
    int group = config.queriesPerKeyValueHead();
    RopeScaling scaling = config.ropeScaling(index);
    double[] inverseFrequencies = scaling.inverseFrequencies(config.ropeTheta(index), headDim, seq);
    double attentionFactor = scaling.attentionFactor(config.maxPositionEmbeddings());
    double[][] q = new double[seq][]; // (seq, heads * head_dim)
    double[][] k = new double[seq][]; // (seq, kv_heads * head_dim)
    double[][] v = new double[seq][]; // (seq, kv_heads * head_dim)
    for (int t = 0; t < seq; t++) {
      double[] h = rmsNorm(x[t], layer.inputNorm());
      if (config.architecture().fusedProjections()) {
        // Phi-3: one projection, its outputs q, then k, then v
        double[] qkv = layer.projections().get(Projection.QKV_PROJ).apply(h);
        int qDim = heads * headDim;
        int kvDim = config.numKeyValueHeads() * headDim;
        q[t] = Arrays.copyOfRange(qkv, 0, qDim);
        k[t] = Arrays.copyOfRange(qkv, qDim, qDim + kvDim);
        v[t] = Arrays.copyOfRange(qkv, qDim + kvDim, qDim + 2 * kvDim);
      } else {
        q[t] = layer.projections().get(Projection.Q_PROJ).apply(h);
        k[t] = layer.projections().get(Projection.K_PROJ).apply(h);
        v[t] = layer.projections().get(Projection.V_PROJ).apply(h);
      }
      if (layer.queryNorm() != null) {
        normEachHead(q[t], heads, layer.queryNorm());
        normEachHead(k[t], config.numKeyValueHeads(), layer.keyNorm());
      }
      rotate(q[t], heads, t, inverseFrequencies, attentionFactor);
      rotate(k[t], config.numKeyValueHeads(), t, inverseFrequencies, attentionFactor);
    }
    GemmaSettings gemma = config.gemma();
    double scale =
        config.architecture().gemma()
            ? Math.pow(gemma.queryPreAttnScalar(), -0.5)
            : 1.0 / Math.sqrt(headDim);
    double cap = gemma.attnLogitSoftcapping();
    int window = config.slidingLayer(index) ? config.slidingWindow() : 0;
    double[][] out = new double[seq][];
    for (int t = 0; t < seq; t++) {
      double[] context = new double[heads * headDim]; // (heads * head_dim)
      for (int head = 0; head < heads; head++) {
        int kvHead = head / group;
        // causal: positions first..t only, the last sliding_window of them when one is set
        int first = window > 0 ? Math.max(0, t - window + 1) : 0;
        double[] scores = new double[t + 1 - first];
        for (int s = first; s <= t; s++) {
          double dot = 0.0;
          for (int d = 0; d < headDim; d++) {
            dot += q[t][head * headDim + d] * k[s][kvHead * headDim + d];
          }
          scores[s - first] = cap > 0 ? cap * Math.tanh(dot * scale / cap) : dot * scale;
        }
        double[] weights = softmax(scores);
        for (int s = first; s <= t; s++) {
          for (int d = 0; d < headDim; d++) {
            context[head * headDim + d] += weights[s - first] * v[s][kvHead * headDim + d];
          }
        }
      }
      out[t] = layer.projections().get(Projection.O_PROJ).apply(context);
    }
    return out;
  }

  /**
   * SwiGLU: down(silu(gate(x)) * up(x)); Gemma's GeGLU with tanh GELU in place of silu; Phi-3's
   * gate and up are the two halves of gate_up_proj's output.
   */
  private double[] mlp(DecoderLayer layer, double[] x) {
    double[] gate;
    double[] up;
    if (config.architecture().fusedProjections()) {
      double[] gateUp = layer.projections().get(Projection.GATE_UP_PROJ).apply(x);
      gate = Arrays.copyOfRange(gateUp, 0, gateUp.length / 2);
      up = Arrays.copyOfRange(gateUp, gateUp.length / 2, gateUp.length);
    } else {
      gate = layer.projections().get(Projection.GATE_PROJ).apply(x);
      up = layer.projections().get(Projection.UP_PROJ).apply(x);
    }
    boolean gelu = config.architecture().gemma();
    for (int i = 0; i < gate.length; i++) {
      double g = gate[i];
      double activated =
          gelu
              ? 0.5 * g * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (g + 0.044715 * g * g * g)))
              : g / (1.0 + Math.exp(-g));
      gate[i] = activated * up[i];
    }
    return layer.projections().get(Projection.DOWN_PROJ).apply(gate);
  }

  /**
   * RoPE in transformers' rotate_half ("neox") layout: dimension d pairs with d + head_dim/2, angle
   * = position · inverseFrequencies[i] for i = d mod head_dim/2 (scaling already applied), cos and
   * sin times the scaling's attention factor.
   */
  private void rotate(
      double[] vector,
      int heads,
      int position,
      double[] inverseFrequencies,
      double attentionFactor) {
    int headDim = config.headDim();
    int half = headDim / 2;
    for (int i = 0; i < half; i++) {
      double angle = position * inverseFrequencies[i];
      double cos = Math.cos(angle) * attentionFactor;
      double sin = Math.sin(angle) * attentionFactor;
      for (int head = 0; head < heads; head++) {
        int first = head * headDim + i;
        int second = first + half;
        double a = vector[first];
        double b = vector[second];
        vector[first] = a * cos - b * sin;
        vector[second] = b * cos + a * sin;
      }
    }
  }

  /** Qwen3's q_norm / k_norm: RMSNorm over each head_dim slice, one weight for all heads. */
  private void normEachHead(double[] vector, int heads, double[] weight) {
    int headDim = config.headDim();
    for (int head = 0; head < heads; head++) {
      double[] normed =
          rmsNorm(Arrays.copyOfRange(vector, head * headDim, (head + 1) * headDim), weight);
      System.arraycopy(normed, 0, vector, head * headDim, headDim);
    }
  }

  /** x · rsqrt(mean(x²) + eps) · w; Gemma: · (1 + w). */
  private double[] rmsNorm(double[] x, double[] weight) {
    double offset = config.architecture().gemma() ? 1.0 : 0.0;
    double sumSquares = 0.0;
    for (double value : x) {
      sumSquares += value * value;
    }
    double inverseRms = 1.0 / Math.sqrt(sumSquares / x.length + config.rmsNormEps());
    double[] out = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      out[i] = x[i] * inverseRms * (offset + weight[i]);
    }
    return out;
  }

  private double[] unembed(double[] normed) {
    int hidden = config.hiddenSize();
    double[] logits = new double[config.vocabSize()];
    for (int token = 0; token < logits.length; token++) {
      double sum = 0.0;
      for (int i = 0; i < hidden; i++) {
        sum += lmHead[token * hidden + i] * normed[i];
      }
      double cap = config.gemma().finalLogitSoftcapping();
      logits[token] = cap > 0 ? cap * Math.tanh(sum / cap) : sum;
    }
    return logits;
  }

  private static void addInPlace(double[] target, double[] delta) {
    for (int i = 0; i < target.length; i++) {
      target[i] += delta[i];
    }
  }

  /** W + scale·B·A, or W itself when the projection is not adapted. */
  private static double[] merged(Linear linear) {
    if (linear.loraA() == null) {
      return linear.weight();
    }
    double[] out = linear.weight().clone();
    for (int o = 0; o < linear.out(); o++) {
      for (int i = 0; i < linear.in(); i++) {
        double sum = 0.0;
        for (int k = 0; k < linear.rank(); k++) {
          sum += linear.loraB()[o * linear.rank() + k] * linear.loraA()[k * linear.in() + i];
        }
        out[o * linear.in() + i] += linear.loraScale() * sum;
      }
    }
    return out;
  }

  // ---- loading
  // -----------------------------------------------------------------------------------

  private static double[] read(ModelWeights weights, String name, int... expectedShape)
      throws IOException {
    checkShape(weights.info(name), expectedShape);
    return weights.readDoubles(name);
  }

  private static double[] readAdapter(SafetensorsReader reader, String name, int... expectedShape)
      throws IOException {
    checkShape(reader.info(name), expectedShape);
    return reader.readDoubles(name);
  }

  private static void checkShape(TensorInfo info, int[] expected) {
    if (!Arrays.equals(info.dims(), expected)) {
      throw new IllegalArgumentException(
          info.name()
              + " has shape "
              + Arrays.toString(info.dims())
              + ", expected "
              + Arrays.toString(expected));
    }
  }
}
