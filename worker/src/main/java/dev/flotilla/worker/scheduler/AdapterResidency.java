package dev.flotilla.worker.scheduler;

import dev.flotilla.worker.scheduler.SchedulerMetrics.AdapterSource;
import dev.flotilla.worker.scheduler.SchedulerMetrics.AdapterTier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Where each adapter the engine holds lives: S-LoRA's unified paging on the scheduler's side. The
 * one owner of adapter residency; engine thread only (loads run on {@code loader} and report back
 * through {@code post}).
 *
 * <p>Three states:
 *
 * <ul>
 *   <li>{@link Tier#LOADING}: its files are being read off the engine thread; requests for it wait,
 *       others keep running.
 *   <li>{@link Tier#POOL}: usable by a step. It is charged as the KV blocks its weights would fill
 *       against the one budget that sequences' KV blocks use, so adapters and KV share a pool and
 *       any number of adapters may be resident while memory allows (an optional cap bounds the
 *       count). An adapter used by a running sequence is pinned; an idle one carries the engine's
 *       release clock ({@link dev.flotilla.worker.engine.KvStats#lruClock()}) as of its last use,
 *       the clock that stamps cached KV blocks as they become reclaimable, so {@link SharedPool}
 *       evicts idle adapters and reclaims cached KV blocks in one least-recently-used order
 *       whenever a sequence or another adapter needs the room, before the scheduler preempts any
 *       running sequence.
 *   <li>{@link Tier#HOST}: evicted from the pool but kept, in a second least-recently-used tier
 *       bounded in bytes, so bringing it back reads no disk. When the host tier is full its least
 *       recently used adapter is freed (the next request for it reads the files again).
 * </ul>
 *
 * <p>How the tiers map onto memory. On the CPU backend the engine's adapter already lives in host
 * memory in the form a step reads, so the host tier keeps the loaded engine adapter itself outside
 * the KV budget and promotion back into the pool is bookkeeping: no read, no conversion. The pool
 * charge is what makes the budget mean the same thing on every backend. On a GPU backend the same
 * states hold different copies: the pool is device memory (the adapter's LoRA pairs uploaded as
 * {@code cuda::upload_adapter} does, charged against the same device budget as the KV blocks), the
 * host tier is the adapter's pinned host copy, eviction frees the device copy and keeps the host
 * one, and promotion is a host-to-device copy on a copy stream during which the adapter stays
 * {@link Tier#LOADING}, so it never stalls a step either.
 *
 * <p>A finished load goes straight into the pool when the budget has room for it without evicting
 * anything; otherwise it waits in the host tier until admission makes room ({@link #promote}). A
 * finished load stays in the host tier even if it alone is larger than the tier, so the request
 * that asked for it can still be served.
 */
final class AdapterResidency {
  enum Tier {
    LOADING,
    POOL,
    HOST,
    /** freed: a later request loads the name afresh */
    FREED
  }

  /** One adapter the engine holds or is loading. */
  static final class Entry {
    final String name;
    final long loadStartNanos;
    Tier tier = Tier.LOADING;
    LoadedAdapter adapter;
    long blocks; // KV blocks of budget the adapter's weights stand for while in the pool
    int running; // running sequences using it: pinned while > 0
    long lastUsed; // the engine's KV release clock when it was last used, while in the pool
    boolean unloadWhenIdle; // freed, not kept in the host tier, once nothing uses it
    final List<CompletableFuture<LoadedAdapter>> waiters = new ArrayList<>();

    private Entry(String name, long loadStartNanos) {
      this.name = name;
      this.loadStartNanos = loadStartNanos;
    }

    boolean pinned() {
      return running > 0;
    }
  }

  /**
   * Limits of the residency.
   *
   * @param maxResident most adapters in the pool at once; {@link Integer#MAX_VALUE} for no cap but
   *     memory
   * @param hostBytes most bytes of adapters kept in the host tier; 0 frees evicted adapters
   */
  record Limits(int maxResident, long hostBytes) {
    Limits {
      if (maxResident < 0 || hostBytes < 0) {
        throw new IllegalArgumentException(
            "adapter limits must not be negative: " + maxResident + ", " + hostBytes);
      }
    }
  }

  private final EngineBackend engine;
  private final AdapterCatalog catalog;
  private final Executor loader;
  private final Consumer<Runnable> post;
  private final SchedulerMetrics metrics;
  private final LongSupplier clock;
  private final long bytesPerBlock;
  private final Limits limits;
  private final LongSupplier freeBudgetBlocks;
  private final BiConsumer<String, String> onLoadFailed;
  private final Runnable publish;

  private final Map<String, Entry> all = new HashMap<>(); // every tier, for lookups
  // access order: least recently used first
  private final LinkedHashMap<String, Entry> pool = new LinkedHashMap<>(16, 0.75f, true);
  private final LinkedHashMap<String, Entry> host = new LinkedHashMap<>(16, 0.75f, true);
  private long poolBlocks;
  private long pinnedBlocks; // of poolBlocks, those of adapters running sequences use
  private long poolBytes;
  private long hostBytes;
  private boolean closed;

  /**
   * @param engine loads (on {@code loader}) and frees (here) adapters
   * @param catalog where adapters' files are
   * @param loader runs loads off the engine thread
   * @param post hands a load's result back to the engine thread
   * @param metrics loads and evictions
   * @param clock nanosecond time source
   * @param bytesPerBlock bytes of one KV block: an adapter in the pool is charged its bytes in
   *     blocks
   * @param limits cap and host-tier bound
   * @param freeBudgetBlocks blocks of the budget free for an adapter now (a finished load enters
   *     the pool only if it fits)
   * @param onLoadFailed told (adapter, message) of each failed load, so the requests waiting for it
   *     fail
   * @param publish publishes the scheduler's state, so what a load's waiter reads next sees it
   */
  AdapterResidency(
      EngineBackend engine,
      AdapterCatalog catalog,
      Executor loader,
      Consumer<Runnable> post,
      SchedulerMetrics metrics,
      LongSupplier clock,
      long bytesPerBlock,
      Limits limits,
      LongSupplier freeBudgetBlocks,
      BiConsumer<String, String> onLoadFailed,
      Runnable publish) {
    this.engine = engine;
    this.catalog = catalog;
    this.loader = loader;
    this.post = post;
    this.metrics = metrics;
    this.clock = clock;
    this.bytesPerBlock = Math.max(1, bytesPerBlock);
    this.limits = limits;
    this.freeBudgetBlocks = freeBudgetBlocks;
    this.onLoadFailed = onLoadFailed;
    this.publish = publish;
  }

  Limits limits() {
    return limits;
  }

  /** Whether adapters can be served at all (a cap of 0 turns them off). */
  boolean enabled() {
    return limits.maxResident > 0;
  }

  /** The adapter in whatever tier, without touching its recency; null when none holds it. */
  Entry find(String name) {
    return all.get(name);
  }

  /**
   * Starts reading an adapter's files off the engine thread; null when the catalog does not know it
   * or the loader refuses the work.
   */
  Entry startLoad(String name) {
    Path dir = catalog.source(name).orElse(null);
    if (dir == null || closed) {
      return null;
    }
    Entry entry = new Entry(name, clock.getAsLong());
    all.put(name, entry);
    try {
      loader.execute(
          () -> {
            try {
              LoadedAdapter adapter = engine.loadAdapter(name, dir);
              post.accept(() -> loaded(entry, adapter));
            } catch (RuntimeException | Error e) {
              post.accept(() -> loadFailed(entry, e));
            }
          });
    } catch (RejectedExecutionException e) {
      all.remove(name);
      return null;
    }
    return entry;
  }

  /**
   * Brings a host-tier adapter into the pool, evicting an idle one first when the count is at its
   * cap; false when every resident adapter is pinned at the cap. The caller has checked the budget
   * ({@link #blocksToAdmit}).
   */
  boolean promote(Entry entry) {
    if (entry.tier != Tier.HOST) {
      throw new IllegalStateException(entry.name + " is not in the host tier: " + entry.tier);
    }
    // Out of the host tier first, so the eviction below cannot free it to make room there.
    host.remove(entry.name);
    hostBytes -= entry.adapter.bytes();
    if (pool.size() >= limits.maxResident && !evictIdle(entry.name, false)) {
      host.put(entry.name, entry);
      hostBytes += entry.adapter.bytes();
      return false;
    }
    putInPool(entry);
    metrics.adapterLoaded(AdapterSource.HOST, 0);
    return true;
  }

  /** Blocks of budget an adapter takes on entering the pool; 0 for one already there. */
  long blocksToAdmit(Entry entry) {
    return entry.tier == Tier.HOST ? entry.blocks : 0;
  }

  /** Marks a pool adapter used by one more running sequence (pinned) and just used. */
  LoadedAdapter acquire(String name) {
    Entry entry = pool.get(name); // touches its recency
    if (entry == null) {
      throw new IllegalStateException("adapter '" + name + "' is not in the pool");
    }
    if (entry.running++ == 0) {
      pinnedBlocks += entry.blocks;
    }
    entry.lastUsed = lruClock();
    return entry.adapter;
  }

  /**
   * A running sequence stopped using the adapter, which counts as a use (its idle time starts now);
   * one marked for unloading goes once idle.
   */
  void release(LoadedAdapter adapter) {
    Entry entry = all.get(adapter.name());
    if (entry == null || entry.adapter != adapter || entry.tier != Tier.POOL) {
      return;
    }
    pool.get(entry.name); // touches its recency
    entry.lastUsed = lruClock();
    if (--entry.running == 0) {
      pinnedBlocks -= entry.blocks;
    }
    if (entry.unloadWhenIdle && !entry.pinned()) {
      pool.remove(entry.name);
      unchargePool(entry);
      free(entry);
    }
  }

  /**
   * The least recently used unpinned pool adapter other than {@code keep} that gives budget back
   * (charged blocks); null when none is.
   */
  Entry oldestIdle(String keep) {
    for (Entry e : pool.values()) {
      if (!e.pinned() && !e.name.equals(keep) && e.blocks > 0) {
        return e;
      }
    }
    return null;
  }

  /** Blocks of budget the unpinned pool adapters other than {@code keep} stand for. */
  long idleBlocks(String keep) {
    Entry kept = keep == null ? null : all.get(keep); // not pool.get: that would touch its recency
    return poolBlocks
        - pinnedBlocks
        - (kept == null || kept.pinned() || kept.tier != Tier.POOL ? 0 : kept.blocks);
  }

  /** Evicts an unpinned pool adapter into the host tier. */
  void evict(Entry entry) {
    if (entry.tier != Tier.POOL || entry.pinned()) {
      throw new IllegalStateException(entry.name + " is not an idle pool adapter");
    }
    pool.remove(entry.name);
    unchargePool(entry);
    metrics.adapterEvicted(AdapterTier.POOL);
    keepInHost(entry, false);
  }

  /**
   * Evicts the least recently used unpinned pool adapter other than {@code keep} into the host
   * tier. With {@code forBlocks}, only one that gives budget back (charged blocks) qualifies.
   *
   * @return whether one was evicted
   */
  boolean evictIdle(String keep, boolean forBlocks) {
    for (Entry e : pool.values()) {
      if (!e.pinned() && !e.name.equals(keep) && (!forBlocks || e.blocks > 0)) {
        evict(e);
        return true;
      }
    }
    return false;
  }

  /**
   * Makes sure a load of the adapter is under way or done, and completes {@code future} with it.
   */
  void requestLoad(String name, CompletableFuture<LoadedAdapter> future) {
    Entry entry = all.get(name);
    if (entry == null) {
      entry = startLoad(name);
      if (entry == null) {
        future.completeExceptionally(
            catalog.contains(name)
                ? new IllegalStateException("the adapter loader refused the load of '" + name + "'")
                : new Scheduler.AdapterNotFoundException(name));
        return;
      }
    }
    entry.unloadWhenIdle = false;
    if (entry.tier == Tier.LOADING) {
      entry.waiters.add(future);
    } else {
      (entry.tier == Tier.POOL ? pool : host).get(name); // just used
      entry.lastUsed = lruClock();
      future.complete(entry.adapter);
    }
  }

  /**
   * Lets go of an adapter: at once when nothing uses it, else when its last running sequence ends
   * (a load under way frees it when done).
   *
   * @return whether it was held or loading
   */
  boolean unload(String name) {
    Entry entry = all.get(name);
    if (entry == null) {
      return false;
    }
    entry.unloadWhenIdle = true;
    if (entry.tier == Tier.HOST) {
      host.remove(name);
      hostBytes -= entry.adapter.bytes();
      free(entry);
    } else if (entry.tier == Tier.POOL && !entry.pinned()) {
      pool.remove(name);
      unchargePool(entry);
      free(entry);
    }
    return true;
  }

  /** Frees every adapter; loads that finish later free theirs. */
  void close() {
    closed = true;
    for (Entry e : new ArrayList<>(pool.values())) {
      free(e);
    }
    for (Entry e : new ArrayList<>(host.values())) {
      free(e);
    }
    pool.clear();
    host.clear();
    poolBlocks = 0;
    pinnedBlocks = 0;
    poolBytes = 0;
    hostBytes = 0;
  }

  long poolBlocks() {
    return poolBlocks;
  }

  long poolBytes() {
    return poolBytes;
  }

  long hostBytes() {
    return hostBytes;
  }

  /** Pool adapters, least recently used first. */
  List<String> resident() {
    return List.copyOf(pool.keySet());
  }

  int hostCount() {
    return host.size();
  }

  /** Host-tier adapters, least recently used first. */
  List<String> inHost() {
    return List.copyOf(host.keySet());
  }

  List<String> loading() {
    List<String> out = new ArrayList<>();
    for (Entry e : all.values()) {
      if (e.tier == Tier.LOADING) {
        out.add(e.name);
      }
    }
    return out;
  }

  // --- load results (engine thread) -----------------------------------------------------------

  private void loaded(Entry entry, LoadedAdapter adapter) {
    metrics.adapterLoaded(AdapterSource.DISK, clock.getAsLong() - entry.loadStartNanos);
    entry.adapter = adapter;
    entry.blocks = (adapter.bytes() + bytesPerBlock - 1) / bytesPerBlock;
    if (closed || entry.unloadWhenIdle || all.get(entry.name) != entry) {
      failWaiters(entry, new Scheduler.AdapterNotFoundException(entry.name));
      free(entry);
      return;
    }
    if (pool.size() < limits.maxResident && entry.blocks <= freeBudgetBlocks.getAsLong()) {
      putInPool(entry);
    } else {
      keepInHost(entry, true);
    }
    publish.run();
    for (CompletableFuture<LoadedAdapter> waiter : entry.waiters) {
      waiter.complete(adapter);
    }
    entry.waiters.clear();
  }

  private void loadFailed(Entry entry, Throwable cause) {
    metrics.adapterLoadFailed(clock.getAsLong() - entry.loadStartNanos);
    if (all.get(entry.name) == entry) {
      all.remove(entry.name);
    }
    String message = "adapter '" + entry.name + "' failed to load: " + cause.getMessage();
    failWaiters(entry, new Scheduler.AdapterLoadException(message, cause));
    onLoadFailed.accept(entry.name, message);
  }

  private static void failWaiters(Entry entry, Throwable cause) {
    for (CompletableFuture<LoadedAdapter> waiter : entry.waiters) {
      waiter.completeExceptionally(cause);
    }
    entry.waiters.clear();
  }

  // --- tiers ----------------------------------------------------------------------------------

  private void putInPool(Entry entry) {
    entry.tier = Tier.POOL;
    entry.lastUsed = lruClock();
    pool.put(entry.name, entry);
    poolBlocks += entry.blocks;
    poolBytes += entry.adapter.bytes();
  }

  private void unchargePool(Entry entry) {
    poolBlocks -= entry.blocks;
    poolBytes -= entry.adapter.bytes();
  }

  /**
   * Puts an adapter in the host tier (most recently used) and frees least recently used ones while
   * the tier is over its bound. A fresh load ({@code wanted}) stays even if it alone is over the
   * bound: a request waits for it.
   */
  private void keepInHost(Entry entry, boolean wanted) {
    entry.tier = Tier.HOST;
    host.put(entry.name, entry);
    hostBytes += entry.adapter.bytes();
    Iterator<Entry> lru = host.values().iterator();
    while (hostBytes > limits.hostBytes && lru.hasNext()) {
      Entry victim = lru.next();
      if (victim == entry && wanted) {
        break; // the most recently used: nothing older is left
      }
      lru.remove();
      hostBytes -= victim.adapter.bytes();
      metrics.adapterEvicted(AdapterTier.HOST);
      free(victim);
    }
  }

  /**
   * The engine's KV release clock: an adapter stamped with it now is newer than every cached block
   * reclaimable so far and older than every block released from now on.
   */
  private long lruClock() {
    return engine.kvStats().lruClock();
  }

  private void free(Entry entry) {
    entry.tier = Tier.FREED;
    if (all.get(entry.name) == entry) {
      all.remove(entry.name);
    }
    if (entry.adapter != null) {
      engine.freeAdapter(entry.adapter);
    }
  }
}
