package dev.flotilla.gateway.route;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class WorkerSelectorTest {
  private final WorkerSelector selector = new WorkerSelector(WorkerSelector.DEFAULT_LOAD_FACTOR);

  private static WorkerView worker(String id, int load, Set<String> resident, int slots) {
    return new WorkerView(id, true, 0, load, 100, resident, Set.of(), slots, 16, 0);
  }

  private static WorkerView withHost(
      String id, int load, Set<String> resident, Set<String> host, int slots) {
    return new WorkerView(
        id, true, 0, load, 100, resident, Set.of(), slots, 16, 0, 0, PrefixHolder.NONE, host);
  }

  private String pick(List<WorkerView> workers, String adapter) {
    return selector.select(workers, adapter, Set.of()).map(WorkerView::id).orElse(null);
  }

  @Test
  void prefersTheWorkerWhereTheAdapterIsResidentOverALessLoadedOne() {
    // Total load 8 + 1 over 3 workers, c = 1.25: bound = ceil(3.75) = 4, and w2 is below it.
    List<WorkerView> ws =
        List.of(
            worker("w1", 2, Set.of(), 4),
            worker("w2", 3, Set.of("sql"), 4),
            worker("w3", 2, Set.of(), 4));
    assertThat(pick(ws, "sql")).isEqualTo("w2");
  }

  @Test
  void thenAWorkerWithAFreeAdapterSlot() {
    List<WorkerView> ws =
        List.of(
            worker("w1", 3, Set.of("a", "b"), 2),
            worker("w2", 4, Set.of("c"), 2),
            worker("w3", 3, Set.of("d", "e"), 2));
    assertThat(pick(ws, "sql")).isEqualTo("w2");
  }

  @Test
  void thenAWorkerKeepingTheAdapterInHostMemoryOverOneWithAFreeSlot() {
    // Bound: ceil(1.25 * (6 + 1) / 3) = 3; all three are under it. w2's slots are full, but
    // "sql" waits in its host tier, while w1 and w3 would read it from disk.
    List<WorkerView> ws =
        List.of(
            withHost("w1", 2, Set.of("a"), Set.of(), 2),
            withHost("w2", 2, Set.of("b", "c"), Set.of("sql"), 2),
            withHost("w3", 2, Set.of(), Set.of("d"), 2));
    assertThat(pick(ws, "sql")).isEqualTo("w2");
  }

  @Test
  void aResidentAdapterBeatsOneInHostMemory() {
    List<WorkerView> ws =
        List.of(
            withHost("w1", 2, Set.of(), Set.of("sql"), 0),
            withHost("w2", 2, Set.of("sql"), Set.of(), 0));
    assertThat(pick(ws, "sql")).isEqualTo("w2");
  }

  @Test
  void aWorkerWithNoCapOnTheCountHasRoomForAnotherAdapter() {
    // Bound: ceil(1.25 * (4 + 1) / 3) = 3. w2 holds three adapters with no cap (0); the others
    // are at their caps, so w2 takes the adapter rather than the least loaded w1.
    List<WorkerView> ws =
        List.of(
            worker("w1", 1, Set.of("a", "b"), 2),
            worker("w2", 2, Set.of("c", "d", "e"), 0),
            worker("w3", 1, Set.of("f"), 1));
    assertThat(pick(ws, "sql")).isEqualTo("w2");
  }

  @Test
  void aWorkerWithoutAdaptersHasNoRoomForOne() {
    assertThat(worker("w1", 0, Set.of(), -1).hasFreeAdapterSlot()).isFalse();
  }

  @Test
  void thenTheLeastLoaded() {
    List<WorkerView> ws =
        List.of(
            worker("w1", 3, Set.of("a"), 1),
            worker("w2", 1, Set.of("b"), 1),
            worker("w3", 2, Set.of("c"), 1));
    assertThat(pick(ws, "sql")).isEqualTo("w2");
  }

  @Test
  void baseModelRequestsGoToTheLeastLoadedWithMostFreeKvOnATie() {
    List<WorkerView> ws =
        List.of(
            new WorkerView("w1", true, 1, 1, 10, Set.of(), Set.of(), 4, 16, 0),
            new WorkerView("w2", true, 0, 2, 50, Set.of(), Set.of(), 4, 16, 0),
            new WorkerView("w3", true, 0, 3, 90, Set.of(), Set.of(), 4, 16, 0));
    assertThat(pick(ws, "")).isEqualTo("w2");
  }

  @Test
  void skipsWorkersThatAreNotReadyFullOrAlreadyTried() {
    List<WorkerView> ws =
        List.of(
            new WorkerView("down", false, 0, 0, 100, Set.of("sql"), Set.of(), 4, 16, 0),
            new WorkerView("full", true, 0, 16, 100, Set.of("sql"), Set.of(), 4, 16, 0),
            new WorkerView("gw-full", true, 0, 0, 100, Set.of("sql"), Set.of(), 4, 16, 16),
            worker("tried", 0, Set.of("sql"), 4),
            worker("ok", 5, Set.of(), 4));
    assertThat(selector.select(ws, "sql", Set.of("tried")).map(WorkerView::id)).contains("ok");
    assertThat(selector.select(ws.subList(0, 3), "sql", Set.of())).isEmpty();
  }

  @Test
  void aResidentWorkerAboveTheLoadBoundSpillsToTheNextOnTheRing() {
    // Total load 10 + 1 over 2 workers, c = 1.25: bound = ceil(6.875) = 7.
    List<WorkerView> ws = List.of(worker("w1", 8, Set.of("hot"), 4), worker("w2", 2, Set.of(), 4));
    assertThat(pick(ws, "hot")).isEqualTo("w2");
    List<WorkerView> under =
        List.of(worker("w1", 6, Set.of("hot"), 4), worker("w2", 4, Set.of(), 4));
    assertThat(pick(under, "hot")).isEqualTo("w1");
  }

  @Test
  void aHotAdapterSpreadsWithLoadsWithinTheBound() {
    Map<String, Integer> load = new HashMap<>();
    Map<String, Set<String>> resident = new HashMap<>();
    List<String> ids = List.of("w1", "w2", "w3", "w4");
    ids.forEach(
        id -> {
          load.put(id, 0);
          resident.put(id, new HashSet<>());
        });
    for (int r = 0; r < 40; r++) {
      List<WorkerView> ws = new ArrayList<>();
      for (String id : ids) {
        ws.add(
            new WorkerView(
                id, true, 0, load.get(id), 100, Set.copyOf(resident.get(id)), Set.of(), 4, 64, 0));
      }
      String chosen = pick(ws, "hot");
      load.merge(chosen, 1, Integer::sum);
      resident.get(chosen).add("hot");
      int total = load.values().stream().mapToInt(Integer::intValue).sum();
      // Each pick sees ceil(1.25 * (total + 1) / n) before adding itself.
      int bound = (int) Math.ceil(1.25 * total / ids.size());
      assertThat(load.values()).allMatch(l -> l <= bound);
    }
    // Never more than c times the average on one worker, so the adapter is resident on at
    // least ceil(n / c) = 4 / 1.25 -> 3.2, i.e. at least 3 of 4 workers after 40 requests.
    assertThat(load.values()).allMatch(l -> l <= 13);
    assertThat(resident.values().stream().filter(r -> r.contains("hot")).count())
        .isGreaterThanOrEqualTo(3);
  }

  @Test
  void coldAdaptersStayPutAndAddingAWorkerMovesFewOfThem() {
    List<String> four = List.of("w1", "w2", "w3", "w4");
    List<String> five = List.of("w1", "w2", "w3", "w4", "w5");
    int moved = 0;
    int adapters = 2000;
    Map<String, Integer> perWorker = new HashMap<>();
    for (int i = 0; i < adapters; i++) {
      String a = "adapter-" + i;
      String before = pick(idle(four), a);
      assertThat(pick(idle(four), a)).isEqualTo(before);
      String after = pick(idle(five), a);
      perWorker.merge(before, 1, Integer::sum);
      if (!before.equals(after)) {
        moved++;
        assertThat(after).isEqualTo("w5"); // only the newcomer takes adapters over
      }
    }
    // Ideal: 1/5 of the adapters move. Virtual nodes keep the ring close to it.
    assertThat(moved).isBetween(adapters / 10, adapters * 3 / 10);
    assertThat(perWorker.values()).allMatch(n -> n > adapters / 4 * 0.7);
  }

  private static List<WorkerView> idle(List<String> ids) {
    return ids.stream().map(id -> worker(id, 0, Set.of(), 8)).toList();
  }
}
