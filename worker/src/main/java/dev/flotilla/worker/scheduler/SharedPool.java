package dev.flotilla.worker.scheduler;

import dev.flotilla.worker.engine.KvStats;

/**
 * The one memory pool that KV blocks and resident adapters share, and the single least recently
 * used order in which room is made in it.
 *
 * <p>The engine's KV blocks are held by sequences, cached (reclaimable: registered in the prefix
 * cache, held by no sequence) or unused. Resident adapters are charged as blocks against the same
 * budget ({@link AdapterResidency}), pinned while a running sequence uses them, idle otherwise.
 * Room for new KV data or a new adapter comes from the unused blocks beyond the adapters' charge
 * ({@link #free}); when that is short, the least recently used unpinned thing goes first, whether a
 * run of cached blocks or an idle adapter, and only when neither is left does the scheduler preempt
 * a running sequence.
 *
 * <p>One clock orders both sides: the engine stamps each cached block with its release clock when
 * the block becomes reclaimable ({@link KvStats#lruClock()}), and the residency stamps an adapter
 * with the same clock when it is used, so a block stamped at or before an adapter's stamp was
 * released before the adapter's last use. Reclaiming explicitly ({@link
 * EngineBackend#reclaimCachedBlocks}) and keeping {@link #free} at or above what a step writes
 * keeps the engine from reclaiming cached blocks on its own, which would take them ahead of an
 * older idle adapter.
 *
 * <p>Engine thread only.
 */
final class SharedPool {
  private final EngineBackend engine;
  private final AdapterResidency adapters;

  SharedPool(EngineBackend engine, AdapterResidency adapters) {
    this.engine = engine;
    this.adapters = adapters;
  }

  /**
   * Blocks a step or an adapter may take without evicting anything: the engine's unused blocks less
   * the resident adapters' charge (negative while a lone sequence borrows the adapters' share).
   */
  long free() {
    return engine.kvStats().unusedBlocks() - adapters.poolBlocks();
  }

  /**
   * Blocks that evicting could add to {@link #free}: every reclaimable cached block and the charge
   * of every idle adapter except {@code keep} (null: none kept).
   */
  long evictable(String keep) {
    return engine.kvStats().reclaimableBlocks() + adapters.idleBlocks(keep);
  }

  /**
   * Evicts the least recently used unpinned things, never {@code keep}'s adapter, until {@link
   * #free} holds {@code blocks}.
   *
   * @return whether it does; false once nothing is left to evict
   */
  boolean makeRoom(long blocks, String keep) {
    long free;
    while ((free = free()) < blocks) {
      if (evictOldest(blocks - free, keep) == 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * Frees the least recently used unpinned thing: cached blocks released before the least recently
   * used idle adapter's last use (up to {@code wanted} of them), else that adapter.
   *
   * @return blocks added to {@link #free}; 0 when nothing was left to evict
   */
  private long evictOldest(long wanted, String keep) {
    AdapterResidency.Entry idle = adapters.oldestIdle(keep);
    long oldestBlock = engine.kvStats().oldestReclaimableStamp(); // 0: none
    if (oldestBlock != 0 && (idle == null || oldestBlock <= idle.lastUsed)) {
      long notAfter = idle == null ? Long.MAX_VALUE : idle.lastUsed;
      int reclaimed =
          engine.reclaimCachedBlocks(notAfter, (int) Math.min(Integer.MAX_VALUE, wanted));
      if (reclaimed > 0) {
        return reclaimed;
      }
    }
    if (idle == null) {
      return 0;
    }
    adapters.evict(idle);
    return idle.blocks;
  }
}
