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
 * @param prefixEvictions cached blocks taken for new data or reclaimed
 * @param lruClock the release clock: advances by one each time a cached block becomes reclaimable,
 *     so its values order reclaimable blocks and anything else stamped with it by recency
 * @param oldestReclaimableStamp the clock's stamp of the least recently released reclaimable block;
 *     0 when none is
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
    long prefixEvictions,
    long lruClock,
    long oldestReclaimableStamp) {

  /** A pool without a prefix cache. */
  public KvStats(int blockSize, int totalBlocks, int freeBlocks, long bytesPerBlock) {
    this(blockSize, totalBlocks, freeBlocks, bytesPerBlock, 0, 0, 0, 0, 0, 0, 0, 0);
  }

  /** Blocks free without reclaiming any cached one. */
  public int unusedBlocks() {
    return freeBlocks - reclaimableBlocks;
  }
}
