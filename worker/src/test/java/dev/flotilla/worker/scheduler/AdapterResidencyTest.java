package dev.flotilla.worker.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.worker.scheduler.SchedulerMetrics.AdapterSource;
import dev.flotilla.worker.scheduler.SchedulerMetrics.AdapterTier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The adapter pool and its host tier, driven directly: loads run when the test says so. */
class AdapterResidencyTest {
  private static final long BLOCK = 4096;
  private static final long ADAPTER = 2 * BLOCK; // every adapter here: two blocks of budget

  private final FakeEngine engine = new FakeEngine(4, 4, 1000);
  private final List<Runnable> loaderQueue = new ArrayList<>();
  private final List<Runnable> posted = new ArrayList<>();
  private final AtomicLong freeBlocks = new AtomicLong(1000);
  private final Map<String, Integer> counts = new HashMap<>();
  private final List<String> failedLoads = new ArrayList<>();
  private final SchedulerMetrics metrics =
      new SchedulerMetrics() {
        @Override
        public void adapterLoaded(AdapterSource source, long nanos) {
          counts.merge("load." + source, 1, Integer::sum);
        }

        @Override
        public void adapterEvicted(AdapterTier from) {
          counts.merge("evict." + from, 1, Integer::sum);
        }
      };

  private AdapterResidency residency(int maxResident, long hostBytes, String... names) {
    Map<String, Path> sources = new HashMap<>();
    for (String name : names) {
      sources.put(name, Path.of("/" + name));
      engine.adapterBytes.put(name, ADAPTER);
    }
    return new AdapterResidency(
        engine,
        new AdapterCatalog(sources),
        loaderQueue::add,
        posted::add,
        metrics,
        System::nanoTime,
        BLOCK,
        new AdapterResidency.Limits(maxResident, hostBytes),
        freeBlocks::get,
        (name, message) -> failedLoads.add(name),
        () -> {});
  }

  /** Runs the queued loads and hands their results to the "engine thread". */
  private void finishLoads() {
    List<Runnable> loads = new ArrayList<>(loaderQueue);
    loaderQueue.clear();
    loads.forEach(Runnable::run);
    List<Runnable> results = new ArrayList<>(posted);
    posted.clear();
    results.forEach(Runnable::run);
  }

  private static void load(AdapterResidency r, String... names) {
    for (String name : names) {
      r.requestLoad(name, new CompletableFuture<>());
    }
  }

  @Test
  void aLoadRunsOffTheCallerAndLandsInThePoolWhenTheBudgetHasRoom() {
    AdapterResidency r = residency(Integer.MAX_VALUE, 0, "a");
    CompletableFuture<LoadedAdapter> done = new CompletableFuture<>();
    r.requestLoad("a", done);
    assertThat(r.loading()).containsExactly("a");
    assertThat(done).isNotDone();
    assertThat(engine.loads).as("nothing read until the loader runs").isEmpty();
    finishLoads();
    assertThat(done).isCompleted();
    assertThat(r.resident()).containsExactly("a");
    assertThat(r.poolBlocks()).isEqualTo(2);
    assertThat(r.poolBytes()).isEqualTo(ADAPTER);
  }

  @Test
  void evictsTheLeastRecentlyUsedUnpinnedAdapterFirst() {
    AdapterResidency r = residency(Integer.MAX_VALUE, 1L << 30, "a", "b", "c");
    load(r, "a", "b", "c");
    finishLoads();
    r.release(r.acquire("a")); // a used last: b is now the least recently used
    assertThat(r.resident()).containsExactly("b", "c", "a");
    assertThat(r.evictIdle(null, true)).isTrue();
    assertThat(r.resident()).containsExactly("c", "a");
    assertThat(r.inHost()).containsExactly("b");
    assertThat(r.evictIdle(null, true)).isTrue();
    assertThat(r.resident()).containsExactly("a");
    assertThat(r.poolBlocks()).isEqualTo(2);
    assertThat(counts).containsEntry("evict.POOL", 2);
  }

  @Test
  void anAdapterCarriesTheKvReleaseClockOfItsLastUseSoCachedBlocksCanBeOrderedWithIt() {
    AdapterResidency r = residency(Integer.MAX_VALUE, 1L << 30, "a", "b");
    engine.lruClock = 5;
    load(r, "a", "b");
    finishLoads();
    assertThat(r.find("a").lastUsed).isEqualTo(5);
    engine.lruClock = 7;
    LoadedAdapter a = r.acquire("a");
    assertThat(r.find("a").lastUsed).isEqualTo(7);
    assertThat(r.oldestIdle(null).name).as("a is pinned").isEqualTo("b");
    assertThat(r.idleBlocks(null)).isEqualTo(2);
    engine.lruClock = 9;
    r.release(a); // its idle time starts now: newer than b
    assertThat(r.find("a").lastUsed).isEqualTo(9);
    assertThat(r.resident()).containsExactly("b", "a");
    assertThat(r.oldestIdle(null).name).isEqualTo("b");
    assertThat(r.oldestIdle("b").name).isEqualTo("a");
    assertThat(r.idleBlocks(null)).isEqualTo(4);
    assertThat(r.idleBlocks("b")).isEqualTo(2);
    r.evict(r.oldestIdle(null));
    assertThat(r.inHost()).containsExactly("b");
    assertThat(r.idleBlocks(null)).isEqualTo(2);
    assertThat(counts).containsEntry("evict.POOL", 1);
  }

  @Test
  void aPinnedAdapterIsNeverEvicted() {
    AdapterResidency r = residency(Integer.MAX_VALUE, 1L << 30, "a", "b");
    load(r, "a", "b");
    finishLoads();
    LoadedAdapter a = r.acquire("a"); // a running sequence uses it
    r.release(r.acquire("b")); // b is the most recently used, but idle
    assertThat(r.evictIdle(null, true)).isTrue();
    assertThat(r.resident()).containsExactly("a");
    assertThat(r.evictIdle(null, true)).as("only the pinned one is left").isFalse();
    assertThat(r.evictIdle("b", false)).isFalse();
    r.release(a);
    assertThat(r.evictIdle(null, true)).isTrue();
    assertThat(r.resident()).isEmpty();
  }

  @Test
  void anAdapterBackFromTheHostTierReadsNoDisk() {
    AdapterResidency r = residency(Integer.MAX_VALUE, 1L << 30, "a", "b");
    load(r, "a");
    finishLoads();
    LoadedAdapter first = r.acquire("a");
    r.release(first);
    r.evictIdle(null, true);
    AdapterResidency.Entry a = r.find("a");
    assertThat(a.tier).isEqualTo(AdapterResidency.Tier.HOST);
    assertThat(r.blocksToAdmit(a)).isEqualTo(2);
    assertThat(r.hostBytes()).isEqualTo(ADAPTER);
    assertThat(engine.frees).isEmpty();

    assertThat(r.promote(a)).isTrue();
    assertThat(r.acquire("a")).as("the same engine adapter").isSameAs(first);
    assertThat(engine.loads).as("one read of the files").containsExactly("a");
    assertThat(counts).containsEntry("load.DISK", 1).containsEntry("load.HOST", 1);
    assertThat(r.hostBytes()).isZero();
    assertThat(r.poolBlocks()).isEqualTo(2);
  }

  @Test
  void theHostTierFreesItsLeastRecentlyUsedAdaptersBeyondItsBytes() {
    AdapterResidency r = residency(Integer.MAX_VALUE, 2 * ADAPTER, "a", "b", "c", "d");
    load(r, "a", "b", "c", "d");
    finishLoads();
    for (int i = 0; i < 4; i++) {
      assertThat(r.evictIdle(null, true)).isTrue();
      assertThat(r.hostBytes()).isLessThanOrEqualTo(2 * ADAPTER);
    }
    assertThat(r.inHost()).containsExactly("c", "d");
    assertThat(engine.frees).containsExactly("a", "b");
    assertThat(engine.liveAdapters()).isEqualTo(2);
    assertThat(counts).containsEntry("evict.POOL", 4).containsEntry("evict.HOST", 2);
    assertThat(r.find("a")).as("freed: the next request loads it from disk").isNull();
  }

  @Test
  void aHostTierOfZeroBytesFreesEvictedAdapters() {
    AdapterResidency r = residency(Integer.MAX_VALUE, 0, "a");
    load(r, "a");
    finishLoads();
    r.evictIdle(null, true);
    assertThat(r.inHost()).isEmpty();
    assertThat(engine.frees).containsExactly("a");
    assertThat(engine.liveAdapters()).isZero();
  }

  @Test
  void aLoadThatDoesNotFitTheBudgetWaitsInTheHostTier() {
    AdapterResidency r = residency(Integer.MAX_VALUE, 0, "a");
    freeBlocks.set(1); // less than the adapter's two blocks
    CompletableFuture<LoadedAdapter> done = new CompletableFuture<>();
    r.requestLoad("a", done);
    finishLoads();
    assertThat(done).as("loaded, though not resident").isCompleted();
    assertThat(r.resident()).isEmpty();
    assertThat(r.inHost())
        .as("kept although the tier has no bytes: a request waits for it")
        .containsExactly("a");
    assertThat(r.poolBlocks()).isZero();
  }

  @Test
  void theOptionalCapBoundsTheCountAndWaitsForAPinnedAdapter() {
    AdapterResidency r = residency(1, 1L << 30, "a", "b");
    load(r, "a", "b");
    finishLoads();
    assertThat(r.resident()).containsExactly("a");
    assertThat(r.inHost()).containsExactly("b");
    LoadedAdapter a = r.acquire("a");
    AdapterResidency.Entry b = r.find("b");
    assertThat(r.promote(b)).as("a is in use").isFalse();
    assertThat(r.inHost()).containsExactly("b");
    r.release(a);
    assertThat(r.promote(b)).isTrue();
    assertThat(r.resident()).containsExactly("b");
    assertThat(r.inHost()).containsExactly("a");
  }

  @Test
  void unloadFreesAnIdleAdapterInEitherTierAndABusyOneWhenItIdles() {
    AdapterResidency r = residency(Integer.MAX_VALUE, 1L << 30, "a", "b");
    load(r, "a", "b");
    finishLoads();
    r.evictIdle("a", true); // b to the host tier
    assertThat(r.unload("b")).isTrue();
    assertThat(engine.frees).containsExactly("b");
    LoadedAdapter a = r.acquire("a");
    assertThat(r.unload("a")).isTrue();
    assertThat(r.resident()).as("in use: stays until idle").containsExactly("a");
    r.release(a);
    assertThat(r.resident()).isEmpty();
    assertThat(engine.frees).containsExactly("b", "a");
    assertThat(r.inHost()).isEmpty();
    assertThat(r.unload("a")).isFalse();
  }

  @Test
  void aFailedLoadIsForgottenAndReported() {
    Map<String, Path> sources = Map.of("bad", Path.of("/broken"));
    AdapterResidency r =
        new AdapterResidency(
            engine,
            new AdapterCatalog(sources),
            loaderQueue::add,
            posted::add,
            metrics,
            System::nanoTime,
            BLOCK,
            new AdapterResidency.Limits(Integer.MAX_VALUE, 0),
            freeBlocks::get,
            (name, message) -> failedLoads.add(name + ": " + message),
            () -> {});
    CompletableFuture<LoadedAdapter> done = new CompletableFuture<>();
    r.requestLoad("bad", done);
    finishLoads();
    assertThat(done).isCompletedExceptionally();
    assertThat(failedLoads).singleElement().asString().contains("truncated header");
    assertThat(r.find("bad")).isNull();
  }
}
