package dev.flotilla.gateway.route;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Picks the worker for a request. Pure: same inputs, same answer.
 *
 * <p>Only ready workers with a free batch slot qualify (otherwise the request waits in the
 * gateway's fair queue). For a request with an adapter, workers are walked in the adapter's order
 * on a consistent-hash ring, with bounded loads (Mirrokni, Thorup, Zadimoghaddam, "Consistent
 * Hashing with Bounded Loads", 2018): a worker qualifies in the first two tiers only while its load
 * is below {@code ceil(c * (total load + 1) / workers)}. Tiers, first match wins:
 *
 * <ol>
 *   <li>a worker where the adapter is resident (or loading),
 *   <li>a worker with a free adapter slot (it will load the adapter without evicting another),
 *   <li>the least loaded worker.
 * </ol>
 *
 * <p>A cold adapter therefore stays on the same worker as long as membership and loads allow; a hot
 * one spills to the next worker on its ring order, which then holds it too. Requests for the base
 * model go to the least loaded worker.
 */
public final class WorkerSelector {
  /** The paper's recommended balance between spread and stickiness. */
  public static final double DEFAULT_LOAD_FACTOR = 1.25;

  private final double loadFactor;
  private volatile Map.Entry<List<String>, HashRing> ring =
      Map.entry(List.of(), new HashRing(List.of()));

  public WorkerSelector(double loadFactor) {
    if (loadFactor < 1) {
      throw new IllegalArgumentException("load factor must be >= 1");
    }
    this.loadFactor = loadFactor;
  }

  /**
   * @param adapter adapter name, empty for the base model
   * @param exclude worker ids already tried for this request
   */
  public Optional<WorkerView> select(
      List<WorkerView> workers, String adapter, Set<String> exclude) {
    // Loops, not streams: this runs for every dispatched request.
    List<WorkerView> ready = new ArrayList<>(workers.size());
    List<WorkerView> candidates = new ArrayList<>(workers.size());
    for (WorkerView w : workers) {
      if (w.ready()) {
        ready.add(w);
        if (w.freeSlots() > 0 && !exclude.contains(w.id())) {
          candidates.add(w);
        }
      }
    }
    if (candidates.isEmpty()) {
      return Optional.empty();
    }
    if (adapter == null || adapter.isEmpty()) {
      return Optional.of(leastLoaded(candidates));
    }
    long total = ready.stream().mapToLong(WorkerView::load).sum() + 1;
    long bound = (long) Math.ceil(loadFactor * total / ready.size());
    Map<String, WorkerView> byId = new HashMap<>();
    candidates.forEach(w -> byId.put(w.id(), w));
    List<String> order = ring(ready.stream().map(WorkerView::id).sorted().toList()).order(adapter);
    for (String id : order) {
      WorkerView w = byId.get(id);
      if (w != null && w.load() < bound && w.hasAdapter(adapter)) {
        return Optional.of(w);
      }
    }
    for (String id : order) {
      WorkerView w = byId.get(id);
      if (w != null && w.load() < bound && w.hasFreeAdapterSlot()) {
        return Optional.of(w);
      }
    }
    return Optional.of(leastLoaded(candidates));
  }

  private static WorkerView leastLoaded(List<WorkerView> candidates) {
    WorkerView best = candidates.get(0);
    for (int i = 1; i < candidates.size(); i++) {
      if (LEAST_LOADED.compare(candidates.get(i), best) < 0) {
        best = candidates.get(i);
      }
    }
    return best;
  }

  private static final Comparator<WorkerView> LEAST_LOADED =
      Comparator.comparingInt(WorkerView::load)
          .thenComparing(Comparator.comparingInt(WorkerView::freeKvBlocks).reversed())
          .thenComparing(WorkerView::id);

  private HashRing ring(List<String> ids) {
    Map.Entry<List<String>, HashRing> current = ring;
    if (!current.getKey().equals(ids)) {
      current = Map.entry(ids, new HashRing(ids));
      ring = current;
    }
    return current.getValue();
  }
}
