package dev.flotilla.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Writes a PEFT LoRA adapter directory (adapter_config.json, adapter_model.safetensors) for a base
 * model, deterministic from a seed.
 *
 * <pre>{@code
 * GeneratedAdapter adapter = LoraAdapterGenerator.forBase(model.config())
 *         .rank(16).alpha(32).targets(Projection.Q_PROJ, Projection.V_PROJ).seed(3).generate(dir);
 * }</pre>
 *
 * <p>Unlike PEFT's initialisation (B = 0, so a fresh adapter is a no-op), B is random: a test that
 * forgets to apply the adapter must see different logits. B is scaled so that scale·B·A·x has an
 * RMS of about half the base projection's output for any rank and alpha, which keeps the change
 * visible without swamping the base model.
 */
public final class LoraAdapterGenerator {

  private static final double DELTA_RMS = 0.5;

  private final ModelConfig base;
  private long seed = 1;
  private int rank = 8;
  private double alpha = 16;
  private List<Projection> targets; // null: q_proj and v_proj (Phi-3: qkv_proj)
  private List<Integer> layers = List.of();
  private boolean useRslora;
  private Dtype dtype = Dtype.F32;
  private boolean zeroB;
  private String baseModelNameOrPath = "flotilla/tiny-llama";

  private LoraAdapterGenerator(ModelConfig base) {
    this.base = base;
  }

  public static LoraAdapterGenerator forBase(ModelConfig base) {
    return new LoraAdapterGenerator(base);
  }

  public static LoraAdapterGenerator forBase(Path baseModelDir) throws IOException {
    return new LoraAdapterGenerator(ModelConfig.read(baseModelDir))
        .baseModelNameOrPath(baseModelDir.toString());
  }

  public LoraAdapterGenerator seed(long value) {
    seed = value;
    return this;
  }

  /** Any rank from 1 to 256. */
  public LoraAdapterGenerator rank(int value) {
    if (value < 1 || value > 256) {
      throw new IllegalArgumentException("rank must be in 1..256, got " + value);
    }
    rank = value;
    return this;
  }

  public LoraAdapterGenerator alpha(double value) {
    if (!(value > 0)) {
      throw new IllegalArgumentException("lora_alpha must be positive, got " + value);
    }
    alpha = value;
    return this;
  }

  public LoraAdapterGenerator targets(Projection... value) {
    targets = List.copyOf(Arrays.asList(value));
    return this;
  }

  /** Adapt only these layers (PEFT {@code layers_to_transform}); by default every layer. */
  public LoraAdapterGenerator layers(Integer... value) {
    layers = List.copyOf(Arrays.asList(value));
    return this;
  }

  public LoraAdapterGenerator useRslora(boolean value) {
    useRslora = value;
    return this;
  }

  public LoraAdapterGenerator dtype(Dtype value) {
    dtype = value;
    return this;
  }

  /**
   * B = 0, as PEFT initialises it: the adapter must then leave the base model's output unchanged.
   */
  public LoraAdapterGenerator zeroB(boolean value) {
    zeroB = value;
    return this;
  }

  public LoraAdapterGenerator baseModelNameOrPath(String value) {
    baseModelNameOrPath = value;
    return this;
  }

  /**
   * The adapter's config; its targets must be projections the base has ({@link
   * Architecture#projections()}: Phi-3 has qkv_proj and gate_up_proj, the others the seven).
   */
  public LoraConfig config() {
    List<Projection> stored = base.architecture().projections();
    List<Projection> chosen =
        targets != null
            ? targets
            : base.architecture().fusedProjections()
                ? List.of(Projection.QKV_PROJ)
                : List.of(Projection.Q_PROJ, Projection.V_PROJ);
    for (Projection target : chosen) {
      if (!stored.contains(target)) {
        throw new IllegalArgumentException(
            base.architecture().className() + " has no " + target.moduleName() + " to adapt");
      }
    }
    return new LoraConfig(rank, alpha, chosen, useRslora, layers, baseModelNameOrPath);
  }

  public GeneratedAdapter generate(Path dir) throws IOException {
    LoraConfig config = config();
    for (int layer : config.layersToTransform()) {
      if (layer < 0 || layer >= base.numHiddenLayers()) {
        throw new IllegalArgumentException(
            "layer " + layer + " not in a " + base.numHiddenLayers() + "-layer base");
      }
    }
    Files.createDirectories(dir);
    config.write(dir);

    List<TensorSpec> specs = new ArrayList<>();
    List<double[]> values = new ArrayList<>();
    for (int layer = 0; layer < base.numHiddenLayers(); layer++) {
      if (!config.adaptsLayer(layer)) {
        continue;
      }
      for (Projection projection : config.targetModules()) {
        int in = projection.inFeatures(base);
        int out = projection.outFeatures(base);
        String a = LoraConfig.loraAName(projection, layer);
        String b = LoraConfig.loraBName(projection, layer);
        specs.add(TensorSpec.of(a, dtype, rank, in));
        values.add(gaussian(a, rank * in, 1.0 / Math.sqrt(in)));
        specs.add(TensorSpec.of(b, dtype, out, rank));
        // A·x has unit-variance entries for unit-RMS x, so B·A·x has RMS sqrt(r)·std(B).
        double bStd = DELTA_RMS / (Math.sqrt(rank) * Math.abs(config.scale()));
        values.add(zeroB ? new double[out * rank] : gaussian(b, out * rank, bStd));
      }
    }
    SafetensorsWriter.writeAll(dir.resolve(LoraConfig.WEIGHTS_FILE), specs, values);
    return new GeneratedAdapter(dir, config);
  }

  private double[] gaussian(String tensorName, int count, double std) {
    SeededGaussian random = SeededGaussian.forTensor(seed, tensorName);
    double[] values = new double[count];
    for (int i = 0; i < count; i++) {
      values[i] = (float) (std * random.nextGaussian());
    }
    return values;
  }
}
