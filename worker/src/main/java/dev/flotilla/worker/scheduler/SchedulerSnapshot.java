package dev.flotilla.worker.scheduler;

import java.util.List;

/**
 * The scheduler's state after its last step, for Stats, health and metrics.
 *
 * @param queueDepth sequences waiting for admission
 * @param running sequences in the batch
 * @param freeKvBlocks KV blocks free for new tokens (the budget less resident adapters), never
 *     negative
 * @param totalKvBlocks blocks in the pool
 * @param kvBlockSize tokens per block
 * @param residentAdapters adapters in slots, least recently used first
 * @param loadingAdapters adapters being loaded
 * @param adapterSlots slot count
 * @param maxBatchSize most sequences in the batch
 * @param tokensGenerated tokens generated since start
 * @param draining whether new requests are refused
 */
public record SchedulerSnapshot(
    int queueDepth,
    int running,
    int freeKvBlocks,
    int totalKvBlocks,
    int kvBlockSize,
    List<String> residentAdapters,
    List<String> loadingAdapters,
    int adapterSlots,
    int maxBatchSize,
    long tokensGenerated,
    boolean draining) {

  public SchedulerSnapshot {
    residentAdapters = List.copyOf(residentAdapters);
    loadingAdapters = List.copyOf(loadingAdapters);
  }

  public int usedKvBlocks() {
    return totalKvBlocks - freeKvBlocks;
  }
}
