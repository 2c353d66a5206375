package dev.flotilla.worker.engine;

/**
 * A LoRA adapter loaded against a model. Must not be closed while a decode that uses it runs;
 * a batch naming a closed adapter fails with {@link InvalidEngineArgumentException}.
 */
public final class Adapter extends NativeHandle {
    private final int rank;
    private final float scale;

    Adapter(long handle) {
        super(handle, "adapter");
        this.rank = NativeEngine.adapterRank(handle);
        this.scale = NativeEngine.adapterScale(handle);
    }

    public int rank() {
        return rank;
    }

    /** alpha / r, or alpha / sqrt(r) with rsLoRA. */
    public float scale() {
        return scale;
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
