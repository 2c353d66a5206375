package dev.flotilla.worker.engine;

/**
 * Occupancy of a context's KV block pool and its prefix cache.
 *
 * @param freeBlocks blocks a step may take: the free ones and the reclaimable cached ones
 * @param reclaimableBlocks cached blocks no sequence holds (counted in {@code freeBlocks})
 * @param cachedBlocks blocks in the prefix cache, held or reclaimable
 * @param prefixLookups prefix adoptions tried
 * @param prefixLookupTokens tokens they offered
 * @param prefixHitTokens positions they reused
 * @param prefixEvictions cached blocks taken for new data
 */
public record KvStats(
    int blockSize,
    int totalBlocks,
    int freeBlocks,
    long bytesPerBlock,
    int reclaimableBlocks,
    int cachedBlocks,
    long prefixLookups,
    long prefixLookupTokens,
    long prefixHitTokens,
    long prefixEvictions) {

  /** A pool without a prefix cache. */
  public KvStats(int blockSize, int totalBlocks, int freeBlocks, long bytesPerBlock) {
    this(blockSize, totalBlocks, freeBlocks, bytesPerBlock, 0, 0, 0, 0, 0, 0);
  }
}
