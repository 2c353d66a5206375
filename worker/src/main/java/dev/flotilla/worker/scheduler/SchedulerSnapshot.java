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
 * @param kvBytesPerBlock bytes of one block in the cache's dtype (BF16 blocks are half an F32 one)
 * @param residentAdapters adapters in the pool (usable by a step), least recently used first
 * @param loadingAdapters adapters being loaded
 * @param hostAdapters adapters kept in the host tier
 * @param hostAdapterNames those adapters, least recently used first
 * @param adapterPoolBytes bytes of the resident adapters' weights (charged to the KV budget)
 * @param adapterHostBytes bytes of the host tier's adapters
 * @param adapterSlots most adapters resident at once: {@link Integer#MAX_VALUE} when only memory
 *     bounds them, 0 when adapters are off
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
    long kvBytesPerBlock,
    List<String> residentAdapters,
    List<String> loadingAdapters,
    int hostAdapters,
    List<String> hostAdapterNames,
    long adapterPoolBytes,
    long adapterHostBytes,
    int adapterSlots,
    int maxBatchSize,
    long tokensGenerated,
    boolean draining) {

  public SchedulerSnapshot {
    residentAdapters = List.copyOf(residentAdapters);
    loadingAdapters = List.copyOf(loadingAdapters);
    hostAdapterNames = List.copyOf(hostAdapterNames);
  }

  public int usedKvBlocks() {
    return totalKvBlocks - freeKvBlocks;
  }

  /** Bytes of the block pool: the KV budget as the engine holds it. */
  public long totalKvBytes() {
    return totalKvBlocks * kvBytesPerBlock;
  }

  /** Bytes of the blocks in use, resident adapters' share included. */
  public long usedKvBytes() {
    return usedKvBlocks() * kvBytesPerBlock;
  }
}
