package dev.flotilla.worker.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * Room in the pool KV blocks and adapters share, made in one least-recently-used order over cached
 * blocks and idle adapters; driven directly over {@link FakeEngine}'s release stamps.
 */
class SharedPoolTest {
  private final FakeEngine engine = new FakeEngine(4, 4, 20);
  private final AdapterResidency adapters =
      new AdapterResidency(
          engine,
          new AdapterCatalog(Map.of("a", Path.of("/a"), "b", Path.of("/b"))),
          Runnable::run,
          Runnable::run,
          SchedulerMetrics.NONE,
          System::nanoTime,
          4096,
          new AdapterResidency.Limits(Integer.MAX_VALUE, 1L << 30),
          () -> 1000,
          (name, message) -> {},
          () -> {});
  private final SharedPool pool = new SharedPool(engine, adapters);

  /** Adapters a (last used at stamp 3) and b (at 10), 2 blocks each; blocks cached at stamps. */
  private void setUp(long... cachedStamps) {
    engine.adapterBytes.put("a", 2 * 4096L);
    engine.adapterBytes.put("b", 2 * 4096L);
    for (String name : List.of("a", "b")) {
      adapters.requestLoad(name, new CompletableFuture<>());
    }
    engine.lruClock = 3;
    adapters.release(adapters.acquire("a"));
    engine.lruClock = 10;
    adapters.release(adapters.acquire("b"));
    for (long stamp : cachedStamps) {
      engine.cachedStamps.add(stamp);
    }
    engine.lruClock = 12;
  }

  @Test
  void freeRoomIsTheUnusedBlocksLessTheAdaptersAndEvictingCanAddTheRest() {
    setUp(1, 2, 5, 6, 11, 12);
    assertThat(pool.free()).isEqualTo(20 - 6 - 4);
    assertThat(pool.evictable(null)).isEqualTo(6 + 4);
    assertThat(pool.evictable("a")).as("a is kept").isEqualTo(6 + 2);
  }

  @Test
  void theLeastRecentlyUsedGoesFirstWhicheverSideItIsOn() {
    setUp(1, 2, 5, 6, 11, 12);
    // 4 more blocks: the two cached before a's last use, then a; nothing newer
    assertThat(pool.makeRoom(14, null)).isTrue();
    assertThat(engine.cachedStamps).containsExactly(5L, 6L, 11L, 12L);
    assertThat(adapters.resident()).containsExactly("b");
    assertThat(adapters.inHost()).containsExactly("a");
    // 5 more: the blocks older than b, then b, then the newest blocks, oldest first
    assertThat(pool.makeRoom(19, null)).isTrue();
    assertThat(engine.cachedStamps).containsExactly(12L);
    assertThat(adapters.resident()).isEmpty();
    assertThat(pool.free()).isEqualTo(19);
  }

  @Test
  void aKeptOrPinnedAdapterStaysAndRoomRunsOutWhenOnlyTheyAreLeft() {
    setUp(1, 11);
    LoadedAdapter pinned = adapters.acquire("b");
    assertThat(pool.makeRoom(20, "a")).as("a kept, b pinned").isFalse();
    assertThat(engine.cachedStamps).isEmpty();
    assertThat(adapters.resident()).containsExactly("a", "b");
    assertThat(pool.free()).isEqualTo(20 - 4);
    adapters.release(pinned);
    assertThat(pool.makeRoom(18, "a")).isTrue();
    assertThat(adapters.resident()).containsExactly("a");
  }
}
