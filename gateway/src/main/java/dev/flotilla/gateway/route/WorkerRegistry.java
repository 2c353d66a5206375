package dev.flotilla.gateway.route;

import dev.flotilla.api.prefix.PrefixBloom;
import dev.flotilla.api.worker.v1.WorkerStats;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * The workers this gateway knows, per model: where they are (from endpoint discovery), what they
 * last reported (from their Stats streams) and what this gateway has in flight on each. Listeners
 * hear the model key whenever a model's workers change, so its scheduler can dispatch.
 */
public final class WorkerRegistry {
  /** A worker endpoint: one pod serving one model. */
  public record Endpoint(String id, String modelKey, String address) {}

  /**
   * A worker's last report with the adapter sets routing reads, built once per report instead of on
   * every {@link #views} call (twice per dispatched request).
   */
  private record Report(
      WorkerStats stats,
      boolean ready,
      Set<String> resident,
      Set<String> loading,
      Set<String> host,
      PrefixBloom prefixes) {
    static Report of(WorkerStats s) {
      return new Report(
          s,
          s.getServing() && !s.getDraining(),
          Set.copyOf(s.getResidentAdaptersList()),
          Set.copyOf(s.getLoadingAdaptersList()),
          Set.copyOf(s.getHostAdaptersList()),
          PrefixBloom.of(s.getHeldPrefixes()));
    }
  }

  private static final class Worker {
    final Endpoint endpoint;
    volatile Report report;
    int inFlight;

    /**
     * The most requests this gateway had in flight between the previous report and the current one:
     * the report's snapshot was taken somewhere in that window, so it counted at most these of
     * ours. Subtracting fewer (inFlight on arrival) would leave requests that ended while the
     * report travelled counted as other gateways' until the next report.
     */
    int inFlightAtReport;

    /** The most in flight since the current report arrived. */
    int inFlightPeak;

    final Set<String> loadingHere = new HashSet<>();

    /** Prefixes sent since reports may not count them yet. */
    final SentPrefixes sentHere = new SentPrefixes();

    Worker(Endpoint endpoint) {
      this.endpoint = endpoint;
    }
  }

  private final Map<String, Worker> workers = new ConcurrentHashMap<>();
  private final List<Consumer<String>> listeners = new CopyOnWriteArrayList<>();
  private final List<Consumer<Endpoint>> added = new CopyOnWriteArrayList<>();
  private final List<Consumer<Endpoint>> removed = new CopyOnWriteArrayList<>();
  private final LongSupplier nanos;

  public WorkerRegistry() {
    this(System::nanoTime);
  }

  /** A registry reading time from {@code nanos} (for how long sent prefixes are remembered). */
  public WorkerRegistry(LongSupplier nanos) {
    this.nanos = nanos;
  }

  public void onChange(Consumer<String> listener) {
    listeners.add(listener);
  }

  /** Hooks for the stats watchers: one stream per endpoint. */
  public void onEndpoints(Consumer<Endpoint> onAdded, Consumer<Endpoint> onRemoved) {
    added.add(onAdded);
    removed.add(onRemoved);
  }

  public void upsert(Endpoint endpoint) {
    Worker old = workers.get(endpoint.id());
    if (old != null && old.endpoint.equals(endpoint)) {
      return;
    }
    if (old != null) {
      remove(endpoint.id());
    }
    workers.put(endpoint.id(), new Worker(endpoint));
    added.forEach(l -> l.accept(endpoint));
    fire(endpoint.modelKey());
  }

  public void remove(String id) {
    Worker w = workers.remove(id);
    if (w != null) {
      removed.forEach(l -> l.accept(w.endpoint));
      fire(w.endpoint.modelKey());
    }
  }

  public void updateStats(String id, WorkerStats stats) {
    Worker w = workers.get(id);
    if (w == null) {
      return;
    }
    synchronized (w) {
      w.report = Report.of(stats);
      w.inFlightAtReport = Math.max(w.inFlightPeak, w.inFlight);
      w.inFlightPeak = w.inFlight;
      // A report after the dispatch knows the adapter (resident or loading) or it failed.
      w.loadingHere.clear();
    }
    w.sentHere.reported(nanos.getAsLong());
    fire(w.endpoint.modelKey());
  }

  /** The worker stopped reporting (stream broke): not ready until it reports again. */
  public void statsLost(String id) {
    Worker w = workers.get(id);
    if (w != null) {
      w.report = null;
      fire(w.endpoint.modelKey());
    }
  }

  /**
   * The model of the worker registered at {@code address}; empty when none is, or when workers of
   * two models claim it (a pod address reused before the old pod's removal arrived).
   */
  public Optional<String> modelAt(String address) {
    Set<String> models = new HashSet<>();
    for (Worker w : workers.values()) {
      if (w.endpoint.address().equals(address)) {
        models.add(w.endpoint.modelKey());
      }
    }
    return models.size() == 1 ? Optional.of(models.iterator().next()) : Optional.empty();
  }

  public Optional<Endpoint> endpoint(String id) {
    Worker w = workers.get(id);
    return w == null ? Optional.empty() : Optional.of(w.endpoint);
  }

  /** Counts a request dispatched to the worker; the adapter is treated as loading there. */
  public void dispatched(String id, String adapter) {
    dispatched(id, adapter, new long[0]);
  }

  /**
   * Counts a request dispatched to the worker; the adapter is treated as loading there and the
   * request's prefixes as held.
   */
  public void dispatched(String id, String adapter, long[] prefixKeys) {
    Worker w = workers.get(id);
    if (w != null) {
      synchronized (w) {
        w.inFlight++;
        w.inFlightPeak = Math.max(w.inFlightPeak, w.inFlight);
        if (adapter != null && !adapter.isEmpty()) {
          w.loadingHere.add(adapter);
        }
      }
      if (prefixKeys.length > 0) {
        w.sentHere.sent(prefixKeys, nanos.getAsLong());
      }
    }
  }

  public void finished(String id) {
    Worker w = workers.get(id);
    if (w != null) {
      synchronized (w) {
        w.inFlight = Math.max(0, w.inFlight - 1);
      }
      fire(w.endpoint.modelKey());
    }
  }

  public List<WorkerView> views(String modelKey) {
    List<WorkerView> out = new ArrayList<>();
    for (Worker w : workers.values()) {
      if (!w.endpoint.modelKey().equals(modelKey)) {
        continue;
      }
      synchronized (w) {
        Report r = w.report; // with inFlightAtReport: both are set under the lock
        if (r == null) {
          out.add(
              new WorkerView(
                  w.endpoint.id(), false, 0, 0, 0, Set.of(), Set.of(), 0, 0, w.inFlight));
          continue;
        }
        WorkerStats s = r.stats();
        Set<String> loading = r.loading();
        if (!w.loadingHere.isEmpty()) {
          Set<String> both = new HashSet<>(loading);
          both.addAll(w.loadingHere);
          loading = Set.copyOf(both);
        }
        PrefixBloom reported = r.prefixes();
        SentPrefixes sent = w.sentHere;
        out.add(
            new WorkerView(
                w.endpoint.id(),
                r.ready(),
                s.getQueueDepth(),
                s.getRunningSequences(),
                s.getFreeKvBlocks(),
                r.resident(),
                loading,
                s.getAdapterSlots(),
                s.getMaxBatchSize(),
                w.inFlight,
                w.inFlightAtReport,
                key -> reported.mightContain(key) || sent.holds(key),
                r.host()));
      }
    }
    return out;
  }

  public int readyCount(String modelKey) {
    int ready = 0;
    for (Worker w : workers.values()) {
      Report r = w.report;
      if (r != null && r.ready() && w.endpoint.modelKey().equals(modelKey)) {
        ready++;
      }
    }
    return ready;
  }

  private void fire(String modelKey) {
    listeners.forEach(l -> l.accept(modelKey));
  }
}
