package dev.flotilla.operator.placement;

import dev.flotilla.operator.model.Quantities;

/**
 * GPU memory one replica needs, by part, so that a shortfall can be explained. Adapters take no
 * part of their own: the worker pages them in the KV cache's memory, so {@code engine
 * .kvCacheMemory} bounds KV blocks and resident adapters together.
 *
 * @param kvCacheTokens positions the KV cache holds in its dtype (BF16 twice those of F32 in the
 *     same bytes); 0 when the model's shapes are unknown
 */
public record MemoryNeed(long weightsBytes, long kvCacheBytes, long kvCacheTokens) {

  public long totalBytes() {
    return weightsBytes + kvCacheBytes;
  }

  /** {@code weights 30 GiB + KV cache and adapters 6 GiB (49152 tokens)}; the tokens when known. */
  public String breakdown() {
    return "weights "
        + Quantities.human(weightsBytes)
        + " + KV cache and adapters "
        + Quantities.human(kvCacheBytes)
        + (kvCacheTokens > 0 ? " (" + kvCacheTokens + " tokens)" : "");
  }
}
