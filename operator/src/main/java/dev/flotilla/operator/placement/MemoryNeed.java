package dev.flotilla.operator.placement;

import dev.flotilla.operator.model.Quantities;

/**
 * GPU memory one replica needs, by part, so that a shortfall can be explained.
 *
 * @param kvCacheTokens positions the KV cache holds in its dtype (BF16 twice those of F32 in the
 *     same bytes); 0 when the model's shapes are unknown
 * @param adapterSlots resident adapter slots ({@code engine.maxAdaptersResident})
 * @param adapterSlotBytes memory of one slot at the model's maximum LoRA rank
 */
public record MemoryNeed(
    long weightsBytes,
    long kvCacheBytes,
    long kvCacheTokens,
    int adapterSlots,
    long adapterSlotBytes) {

  /** A need whose KV capacity in tokens is unknown. */
  public MemoryNeed(long weightsBytes, long kvCacheBytes, int adapterSlots, long adapterSlotBytes) {
    this(weightsBytes, kvCacheBytes, 0, adapterSlots, adapterSlotBytes);
  }

  public long totalBytes() {
    return weightsBytes + kvCacheBytes + adapterSlots * adapterSlotBytes;
  }

  /**
   * {@code weights 30 GiB + KV cache 6 GiB (49152 tokens) + 8 adapter slots 2 GiB}; the tokens when
   * known.
   */
  public String breakdown() {
    return "weights "
        + Quantities.human(weightsBytes)
        + " + KV cache "
        + Quantities.human(kvCacheBytes)
        + (kvCacheTokens > 0 ? " (" + kvCacheTokens + " tokens)" : "")
        + " + "
        + adapterSlots
        + " adapter slots "
        + Quantities.human(adapterSlots * adapterSlotBytes);
  }
}
