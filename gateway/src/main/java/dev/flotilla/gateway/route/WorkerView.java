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
 * @param adapterSlots most adapters resident at once (reported): 0 for no cap on the count (the
 *     worker's KV budget alone bounds them), negative when the worker serves no adapters
 * @param maxBatchSize sequences the worker runs at once; the gateway admits at most that many
 * @param inFlight requests this gateway is streaming from the worker right now
 * @param inFlightAtReport the most of this gateway's requests in flight while the report was on its
 *     way (between the previous report and this one): at most these are counted in it
 * @param prefixes the prompt prefixes it holds: reported, or sent by this gateway since
 * @param hostAdapters adapters kept in the worker's host memory (reported): one comes back without
 *     reading its files
 */
public record WorkerView(
    String id,
    boolean ready,
    int queueDepth,
    int running,
    int freeKvBlocks,
    Set<String> residentAdapters,
    Set<String> loadingAdapters,
    int adapterSlots,
    int maxBatchSize,
    int inFlight,
    int inFlightAtReport,
    PrefixHolder prefixes,
    Set<String> hostAdapters) {

  /** A view holding no prefixes. */
  public WorkerView(
      String id,
      boolean ready,
      int queueDepth,
      int running,
      int freeKvBlocks,
      Set<String> residentAdapters,
      Set<String> loadingAdapters,
      int adapterSlots,
      int maxBatchSize,
      int inFlight,
      int inFlightAtReport) {
    this(
        id,
        ready,
        queueDepth,
        running,
        freeKvBlocks,
        residentAdapters,
        loadingAdapters,
        adapterSlots,
        maxBatchSize,
        inFlight,
        inFlightAtReport,
        PrefixHolder.NONE,
        Set.of());
  }

  /** A view whose report counted none of this gateway's requests, holding no prefixes. */
  public WorkerView(
      String id,
      boolean ready,
      int queueDepth,
      int running,
      int freeKvBlocks,
      Set<String> residentAdapters,
      Set<String> loadingAdapters,
      int adapterSlots,
      int maxBatchSize,
      int inFlight) {
    this(
        id,
        ready,
        queueDepth,
        running,
        freeKvBlocks,
        residentAdapters,
        loadingAdapters,
        adapterSlots,
        maxBatchSize,
        inFlight,
        0);
  }

  /**
   * Requests the worker carries: what this gateway has in flight now plus what the last report
   * counted beyond this gateway's requests at that time (other gateways'). Reports come about once
   * a second; taking the report as it stands would keep a worker that was full then "full" until
   * the next one although this gateway's requests have finished since, and a request would wait up
   * to a report interval for a slot that is already free.
   */
  public int load() {
    return Math.max(0, running + queueDepth - inFlightAtReport) + inFlight;
  }

  /** Requests it can take now without queueing inside the worker. */
  public int freeSlots() {
    return Math.max(0, maxBatchSize - load());
  }

  public boolean hasAdapter(String adapter) {
    return residentAdapters.contains(adapter) || loadingAdapters.contains(adapter);
  }

  /** Whether the adapter waits in its host memory: bringing it back reads no disk. */
  public boolean hasAdapterInHost(String adapter) {
    return hostAdapters.contains(adapter);
  }

  /**
   * Whether it can take one more adapter without evicting another to stay under its cap. With no
   * cap on the count the worker pages adapters in its KV budget and evicts idle ones itself, so
   * every such worker counts as having room.
   */
  public boolean hasFreeAdapterSlot() {
    if (adapterSlots == 0) {
      return true;
    }
    return residentAdapters.size() + loadingAdapters.size() < adapterSlots;
  }
}
