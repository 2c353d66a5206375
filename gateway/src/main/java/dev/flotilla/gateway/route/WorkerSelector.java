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
 *   <li>a worker that keeps the adapter in its host memory (it comes back without a disk read),
 *   <li>a worker with a free adapter slot (it will load the adapter without evicting another; a
 *       worker with no cap on the count always has one),
 *   <li>the least loaded worker.
 * </ol>
 *
 * <p>A cold adapter therefore stays on the same worker as long as membership and loads allow; a hot
 * one spills to the next worker on its ring order, which then holds it too. Requests for the base
 * model go to the least loaded worker.
 *
 * <p>With prefix affinity (on unless turned off), a tier comes before those: among the workers
 * under the bound, the one holding the longest prefix of the request's input ({@link
 * dev.flotilla.api.prefix.PrefixKeys}), where its prompt's KV is still cached; equal matches go to
 * the one holding the adapter resident, then in its host memory, then in ring order (adapter) or to
 * the least loaded (base model). The bound applies to base-model requests too in this tier, so a
 * shared system prompt spreads over more workers once its holder carries more than its share. Every
 * route says how it matched ({@link Match}), with affinity on or off, so the two can be compared.
 */
public final class WorkerSelector {
  /** The paper's recommended balance between spread and stickiness. */
  public static final double DEFAULT_LOAD_FACTOR = 1.25;

  /** How a routed request's worker matched it. */
  public enum Match {
    /** It holds the longest prefix of the request that any ready worker holds. */
    PREFIX,
    /** Not that, but it holds the request's adapter. */
    ADAPTER,
    NONE;

    public String label() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /** A routing decision. */
  public record Route(WorkerView worker, Match match) {}

  private static final long[] NO_KEYS = new long[0];

  private final double loadFactor;
  private final boolean prefixAffinity;
  private volatile Map.Entry<List<String>, HashRing> ring =
      Map.entry(List.of(), new HashRing(List.of()));

  public WorkerSelector(double loadFactor) {
    this(loadFactor, true);
  }

  /**
   * @param prefixAffinity prefer the worker holding the request's longest prefix
   */
  public WorkerSelector(double loadFactor, boolean prefixAffinity) {
    if (loadFactor < 1) {
      throw new IllegalArgumentException("load factor must be >= 1");
    }
    this.loadFactor = loadFactor;
    this.prefixAffinity = prefixAffinity;
  }

  /**
   * @param adapter adapter name, empty for the base model
   * @param exclude worker ids already tried for this request
   */
  public Optional<WorkerView> select(
      List<WorkerView> workers, String adapter, Set<String> exclude) {
    return route(workers, adapter, NO_KEYS, exclude).map(Route::worker);
  }

  /**
   * @param adapter adapter name, empty for the base model
   * @param prefixKeys the request's prefix keys, shortest prefix first
   * @param exclude worker ids already tried for this request
   */
  public Optional<Route> route(
      List<WorkerView> workers, String adapter, long[] prefixKeys, Set<String> exclude) {
    Optional<WorkerView> w = choose(workers, adapter, prefixKeys, exclude);
    if (w.isEmpty()) {
      return Optional.empty();
    }
    int longest = 0;
    if (prefixKeys.length > 0) {
      for (WorkerView v : workers) {
        if (v.ready()) {
          longest = Math.max(longest, v.prefixes().matched(prefixKeys));
        }
      }
    }
    Match match =
        longest > 0 && w.get().prefixes().matched(prefixKeys) == longest
            ? Match.PREFIX
            : adapter != null && !adapter.isEmpty() && w.get().hasAdapter(adapter)
                ? Match.ADAPTER
                : Match.NONE;
    return Optional.of(new Route(w.get(), match));
  }

  private Optional<WorkerView> choose(
      List<WorkerView> workers, String adapter, long[] prefixKeys, Set<String> exclude) {
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
    boolean base = adapter == null || adapter.isEmpty();
    long total = ready.stream().mapToLong(WorkerView::load).sum() + 1;
    long bound = (long) Math.ceil(loadFactor * total / ready.size());
    if (prefixAffinity && prefixKeys.length > 0) {
      Optional<WorkerView> holder =
          longestPrefixHolder(ready, candidates, adapter, prefixKeys, bound);
      if (holder.isPresent()) {
        return holder;
      }
    }
    if (base) {
      return Optional.of(leastLoaded(candidates));
    }
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
      if (w != null && w.load() < bound && w.hasAdapterInHost(adapter)) {
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

  /**
   * The worker under the bound with the longest prefix match; on equal matches the one holding the
   * adapter, then the first in the adapter's ring order (or the least loaded for the base model).
   */
  private Optional<WorkerView> longestPrefixHolder(
      List<WorkerView> ready,
      List<WorkerView> candidates,
      String adapter,
      long[] prefixKeys,
      long bound) {
    boolean base = adapter == null || adapter.isEmpty();
    int best = 0;
    List<WorkerView> tied = new ArrayList<>(2);
    for (WorkerView w : candidates) {
      if (w.load() >= bound) {
        continue;
      }
      int m = w.prefixes().matched(prefixKeys);
      if (m > best) {
        best = m;
        tied.clear();
      }
      if (m == best && m > 0) {
        tied.add(w);
      }
    }
    if (tied.size() <= 1) {
      return tied.stream().findFirst();
    }
    if (!base) {
      List<WorkerView> withAdapter = tied.stream().filter(w -> w.hasAdapter(adapter)).toList();
      if (withAdapter.isEmpty()) {
        withAdapter = tied.stream().filter(w -> w.hasAdapterInHost(adapter)).toList();
      }
      if (!withAdapter.isEmpty()) {
        tied = withAdapter;
      }
      Map<String, WorkerView> byId = new HashMap<>();
      tied.forEach(w -> byId.put(w.id(), w));
      for (String id : ring(ready.stream().map(WorkerView::id).sorted().toList()).order(adapter)) {
        if (byId.containsKey(id)) {
          return Optional.of(byId.get(id));
        }
      }
    }
    return Optional.of(leastLoaded(tied));
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
