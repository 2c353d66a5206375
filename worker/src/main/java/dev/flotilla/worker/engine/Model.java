package dev.flotilla.worker.engine;

import java.nio.file.Path;

/**
 * A Llama-family model loaded into process memory or onto a CUDA device (config.json plus
 * model.safetensors or its sharded index). Contexts and adapters keep the native model alive until
 * they are closed too, and run on the model's device.
 */
public final class Model extends NativeHandle {
  private final ModelInfo info;

  private Model(long handle) {
    super(handle, "model");
    int[] v = new int[10];
    long bytes = NativeEngine.modelInfo(handle, v);
    String[] dtypes = {"F32", "F16", "BF16", "INT8", "INT4"};
    String device = v[9] < 0 ? Devices.CPU : Devices.cuda(v[9]);
    this.info =
        new ModelInfo(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], dtypes[v[8]], bytes, device);
  }

  /**
   * Loads a model directory into process memory; throws an {@link EngineException} subclass naming
   * the problem.
   */
  public static Model load(Path dir) {
    return load(dir, Devices.CPU);
  }

  /**
   * Loads a model directory onto {@code device} ({@code cpu} or {@code cuda:N}); throws {@link
   * DeviceUnavailableException} when that device does not exist, or another {@link EngineException}
   * subclass naming the problem.
   */
  public static Model load(Path dir, String device) {
    return load(dir, device, WeightDtype.AS_STORED);
  }

  /**
   * Loads a model directory onto {@code device} holding its linear weights as {@code weights} says
   * ({@link WeightDtype#INT8} on a CUDA device: {@link UnsupportedModelException}).
   */
  public static Model load(Path dir, String device, WeightDtype weights) {
    NativeEngine.ensureAvailable();
    return new Model(NativeEngine.modelLoad(dir.toAbsolutePath().toString(), device, weights.code));
  }

  public ModelInfo info() {
    return info;
  }

  public EngineContext createContext(ContextParams params) {
    return new EngineContext(
        this,
        NativeEngine.contextCreate(
            handle(),
            params.kvBlockSize(),
            params.kvBudgetBytes(),
            params.maxBatchTokens(),
            params.maxSequences(),
            params.maxLoraRank(),
            params.threads(),
            params.kvDtype().code()),
        params);
  }

  /**
   * Loads a PEFT LoRA adapter directory, checked against this model, stored in the model's compute
   * dtype.
   */
  public Adapter loadAdapter(Path dir) {
    return loadAdapter(dir, AdapterStorage.AUTO);
  }

  /**
   * Loads a PEFT LoRA adapter directory, checked against this model, with the given weight storage.
   */
  public Adapter loadAdapter(Path dir, AdapterStorage storage) {
    return new Adapter(
        NativeEngine.adapterLoad(handle(), dir.toAbsolutePath().toString(), storage.code()));
  }

  @Override
  void free(long handle) {
    NativeEngine.modelFree(handle);
  }
}
