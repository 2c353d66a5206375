package dev.flotilla.gateway.route;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.prefix.PrefixBloom;
import dev.flotilla.api.prefix.PrefixKeys;
import dev.flotilla.api.worker.v1.WorkerStats;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Routing by prompt prefix, under the bounded-load rule, and what the registry knows of it. */
class PrefixRoutingTest {
  /** A request's chain: a 2,048-char shared system prompt (4 keys) and its own turn (1 key). */
  private static final long[] KEYS = PrefixKeys.ofText("", "s".repeat(2048) + "turn").keys();

  private final WorkerSelector affinity = new WorkerSelector(WorkerSelector.DEFAULT_LOAD_FACTOR);
  private final WorkerSelector plain =
      new WorkerSelector(WorkerSelector.DEFAULT_LOAD_FACTOR, false);

  /** A worker holding the first {@code held} keys of {@link #KEYS}. */
  private static WorkerView worker(String id, int load, int held, Set<String> resident) {
    Set<Long> keys = new java.util.HashSet<>();
    for (int i = 0; i < held; i++) {
      keys.add(KEYS[i]);
    }
    return new WorkerView(
        id, true, 0, load, 100, resident, Set.of(), 4, 16, 0, 0, keys::contains, Set.of());
  }

  private static WorkerSelector.Route route(WorkerSelector s, List<WorkerView> ws, String adapter) {
    return s.route(ws, adapter, KEYS, Set.of()).orElseThrow();
  }

  @Test
  void theLongestPrefixWinsOverAShorterOneAndALighterLoad() {
    List<WorkerView> ws =
        List.of(
            worker("w1", 1, 2, Set.of()),
            worker("w2", 1, 4, Set.of()),
            worker("w3", 0, 0, Set.of()));
    WorkerSelector.Route r = route(affinity, ws, "");
    assertThat(r.worker().id()).isEqualTo("w2");
    assertThat(r.match()).isEqualTo(WorkerSelector.Match.PREFIX);
  }

  @Test
  void theBoundedLoadRuleOverridesAffinityWhenTheHolderIsOverloaded() {
    // Total load 6 + 0 + 1 over 2 workers, c = 1.25: bound ceil(4.375) = 5; w1 carries 6.
    List<WorkerView> loaded = List.of(worker("w1", 6, 4, Set.of()), worker("w2", 0, 0, Set.of()));
    WorkerSelector.Route r = route(affinity, loaded, "");
    assertThat(r.worker().id()).isEqualTo("w2");
    assertThat(r.match()).isEqualTo(WorkerSelector.Match.NONE);
    // Under the bound (1 + 0 + 1: bound 2) the holder keeps the request.
    List<WorkerView> light = List.of(worker("w1", 1, 4, Set.of()), worker("w2", 0, 0, Set.of()));
    assertThat(route(affinity, light, "").worker().id()).isEqualTo("w1");
  }

  @Test
  void anOverloadedHolderLetsTheNextLongestHolderIn() {
    List<WorkerView> ws =
        List.of(
            worker("w1", 9, 4, Set.of()),
            worker("w2", 2, 3, Set.of()),
            worker("w3", 0, 0, Set.of()));
    WorkerSelector.Route r = route(affinity, ws, "");
    assertThat(r.worker().id()).isEqualTo("w2");
    // Not the longest prefix any worker holds: no prefix hit.
    assertThat(r.match()).isEqualTo(WorkerSelector.Match.NONE);
  }

  @Test
  void onEqualPrefixesTheAdapterDecides() {
    List<WorkerView> ws =
        List.of(
            worker("w1", 1, 4, Set.of()),
            worker("w2", 2, 4, Set.of("sql")),
            worker("w3", 3, 0, Set.of()));
    WorkerSelector.Route r = route(affinity, ws, "sql");
    assertThat(r.worker().id()).isEqualTo("w2");
    assertThat(r.match()).isEqualTo(WorkerSelector.Match.PREFIX);
  }

  @Test
  void aPrefixBeatsTheAdapterAndTheAdapterAloneCountsAsAnAdapterMatch() {
    List<WorkerView> ws = List.of(worker("w1", 0, 0, Set.of("sql")), worker("w2", 1, 4, Set.of()));
    assertThat(route(affinity, ws, "sql").worker().id()).isEqualTo("w2");
    List<WorkerView> none =
        List.of(worker("w1", 0, 0, Set.of("sql")), worker("w2", 1, 0, Set.of()));
    WorkerSelector.Route r = route(affinity, none, "sql");
    assertThat(r.worker().id()).isEqualTo("w1");
    assertThat(r.match()).isEqualTo(WorkerSelector.Match.ADAPTER);
  }

  @Test
  void withAffinityOffThePrefixIsIgnoredButStillCounted() {
    List<WorkerView> ws = List.of(worker("w1", 1, 4, Set.of()), worker("w2", 0, 0, Set.of()));
    WorkerSelector.Route r = route(plain, ws, "");
    assertThat(r.worker().id()).isEqualTo("w2");
    assertThat(r.match()).isEqualTo(WorkerSelector.Match.NONE);
    List<WorkerView> lucky = List.of(worker("w1", 0, 4, Set.of()), worker("w2", 1, 0, Set.of()));
    assertThat(route(plain, lucky, "").match()).isEqualTo(WorkerSelector.Match.PREFIX);
  }

  @Test
  void equalPrefixHoldersPreferTheOneKeepingTheAdapterInHostMemory() {
    // With nothing else between them the adapter's ring order decides; the other one, which keeps
    // the adapter in host memory, wins once it says so.
    List<WorkerView> plainPair =
        List.of(worker("w1", 0, 4, Set.of()), worker("w2", 0, 4, Set.of()));
    String ringFirst = route(affinity, plainPair, "sql").worker().id();
    String other = ringFirst.equals("w1") ? "w2" : "w1";
    List<WorkerView> ws =
        plainPair.stream()
            .map(
                w ->
                    new WorkerView(
                        w.id(),
                        true,
                        0,
                        0,
                        100,
                        Set.of(),
                        Set.of(),
                        4,
                        16,
                        0,
                        0,
                        w.prefixes(),
                        w.id().equals(other) ? Set.of("sql") : Set.of()))
            .toList();
    WorkerSelector.Route r = route(affinity, ws, "sql");
    assertThat(r.worker().id()).isEqualTo(other);
    assertThat(r.match()).isEqualTo(WorkerSelector.Match.PREFIX);
  }

  private static WorkerStats report(String id, long[] held) {
    return WorkerStats.newBuilder()
        .setWorkerId(id)
        .setServing(true)
        .setMaxBatchSize(16)
        .setHeldPrefixes(PrefixBloom.build(held, held.length))
        .build();
  }

  @Test
  void aBurstWithANewPrefixFollowsTheFirstRequestBeforeAnyReportSaysSo() {
    AtomicLong now = new AtomicLong();
    WorkerRegistry registry = new WorkerRegistry(now::get);
    registry.upsert(new WorkerRegistry.Endpoint("w1", "m", "a1"));
    registry.upsert(new WorkerRegistry.Endpoint("w2", "m", "a2"));
    registry.updateStats("w1", report("w1", new long[0]));
    registry.updateStats("w2", report("w2", new long[0]));

    String first =
        affinity.route(registry.views("m"), "", KEYS, Set.of()).orElseThrow().worker().id();
    // The first request is still running: the holder carries 1, the other worker nothing.
    registry.dispatched(first, "", KEYS);
    for (int i = 0; i < 3; i++) {
      WorkerSelector.Route next =
          affinity.route(registry.views("m"), "", KEYS, Set.of()).orElseThrow();
      assertThat(next.worker().id()).isEqualTo(first);
      assertThat(next.match()).isEqualTo(WorkerSelector.Match.PREFIX);
      registry.dispatched(first, "", KEYS);
      registry.finished(first);
    }

    // A report that may have been taken before the requests arrived keeps them remembered...
    now.addAndGet(SentPrefixes.GRACE_NANOS / 2);
    registry.updateStats(first, report(first, new long[0]));
    assertThat(heldBy(registry, first)).isTrue();
    // ...one long after them is believed: the worker no longer holds the prefix.
    now.addAndGet(SentPrefixes.GRACE_NANOS);
    registry.updateStats(first, report(first, new long[0]));
    assertThat(heldBy(registry, first)).isFalse();
    // And a report listing the keys makes the worker their holder again.
    registry.updateStats(first, report(first, KEYS));
    assertThat(heldBy(registry, first)).isTrue();
  }

  private static boolean heldBy(WorkerRegistry registry, String id) {
    return registry.views("m").stream()
            .filter(v -> v.id().equals(id))
            .findFirst()
            .orElseThrow()
            .prefixes()
            .matched(KEYS)
        == KEYS.length;
  }
}
