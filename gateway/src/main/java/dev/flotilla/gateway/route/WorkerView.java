package dev.flotilla.gateway.route;

import java.util.Set;

/**
 * A worker as routing sees it: its last reported stats plus what this gateway sent it since.
 *
 * @param ready serving and not draining
 * @param queueDepth sequences waiting inside the worker (reported)
 * @param running sequences in the worker's batch (reported)
 * @param freeKvBlocks free KV-cache blocks (reported)
 * @param residentAdapters adapters loaded in the worker's slots (reported)
 * @param loadingAdapters adapters being loaded (reported)
 * @param adapterSlots how many adapters fit at once; 0 when unknown
 * @param maxBatchSize sequences the worker runs at once; the gateway admits at most that many
 * @param inFlight requests this gateway is streaming from the worker right now
 */
public record WorkerView(String id, boolean ready, int queueDepth, int running, int freeKvBlocks,
    Set<String> residentAdapters, Set<String> loadingAdapters, int adapterSlots, int maxBatchSize,
    int inFlight) {

  /**
   * Requests the worker carries: the larger of what it reported and what this gateway knows it
   * sent (reports lag; other gateways' requests appear only in reports).
   */
  public int load() {
    return Math.max(running + queueDepth, inFlight);
  }

  /** Requests it can take now without queueing inside the worker. */
  public int freeSlots() {
    return Math.max(0, maxBatchSize - load());
  }

  public boolean hasAdapter(String adapter) {
    return residentAdapters.contains(adapter) || loadingAdapters.contains(adapter);
  }

  public boolean hasFreeAdapterSlot() {
    return residentAdapters.size() + loadingAdapters.size() < adapterSlots;
  }
}
