package dev.flotilla.worker.engine;

/**
 * A LoRA adapter loaded against a model. Must not be closed while a decode that uses it runs; a
 * batch naming a closed adapter fails with {@link InvalidEngineArgumentException}.
 */
public final class Adapter extends NativeHandle {
  private final int rank;
  private final float scale;
  private final String dtype;
  private final long bytes;

  Adapter(long handle) {
    super(handle, "adapter");
    this.rank = NativeEngine.adapterRank(handle);
    this.scale = NativeEngine.adapterScale(handle);
    this.dtype = NativeEngine.adapterDtype(handle) == 0 ? "F32" : "BF16";
    this.bytes = NativeEngine.adapterBytes(handle);
  }

  public int rank() {
    return rank;
  }

  /** alpha / r, or alpha / sqrt(r) with rsLoRA. */
  public float scale() {
    return scale;
  }

  /** The dtype its weights are stored in: F32 or BF16 (see {@link AdapterStorage}). */
  public String storageDtype() {
    return dtype;
  }

  /** Memory its weights hold in the engine: lora_A and lora_B of every target and layer. */
  public long bytes() {
    return bytes;
  }

  /** The raw handle a {@link Batch} row carries (0 after close). */
  long rawHandle() {
    return isClosed() ? 0 : handle();
  }

  @Override
  void free(long handle) {
    NativeEngine.adapterFree(handle);
  }
}
