package dev.flotilla.operator.placement;

import dev.flotilla.operator.model.Quantities;

/**
 * GPU memory one replica needs, by part, so that a shortfall can be explained.
 *
 * @param adapterSlots resident adapter slots ({@code engine.maxAdaptersResident})
 * @param adapterSlotBytes memory of one slot at the model's maximum LoRA rank
 */
public record MemoryNeed(
    long weightsBytes, long kvCacheBytes, int adapterSlots, long adapterSlotBytes) {
  public long totalBytes() {
    return weightsBytes + kvCacheBytes + adapterSlots * adapterSlotBytes;
  }

  /** {@code weights 30 GiB + KV cache 6 GiB + 8 adapter slots 2 GiB}. */
  public String breakdown() {
    return "weights "
        + Quantities.human(weightsBytes)
        + " + KV cache "
        + Quantities.human(kvCacheBytes)
        + " + "
        + adapterSlots
        + " adapter slots "
        + Quantities.human(adapterSlots * adapterSlotBytes);
  }
}
