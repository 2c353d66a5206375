package dev.flotilla.gateway.queue;

import dev.flotilla.api.crd.Priority;
import java.util.ArrayDeque;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;

/**
 * A fair queue of one model's requests: the Virtual Token Counter of "Fairness in Serving Large
 * Language Models" (Sheng et al., OSDI 2024), with weights and priority bands.
 *
 * <ul>
 *   <li>Each tenant has a virtual counter of the service it received, in weighted tokens: {@code wp
 *       * prompt} when a request is dispatched and {@code wq * n} as it generates {@code n} tokens
 *       ({@link #charge}), each divided by the tenant's weight.
 *   <li>{@link #poll} serves the highest non-empty priority band first (High, Normal, Low); within
 *       a band, the backlogged tenant with the smallest counter (on a tie, the earlier request);
 *       within a tenant, first come first served.
 *   <li>A tenant that becomes backlogged has its counter lifted to the smallest counter among the
 *       backlogged tenants (or, with none, to the counter of the last tenant served), so idle time
 *       does not bank credit.
 * </ul>
 *
 * <p>Bound (the paper's Theorem 4.x, generalised to {@code K} requests running at once): while two
 * tenants of equal weight stay backlogged, their counters differ by at most {@code wp * Lin + K *
 * wq * M}, where {@code Lin} is the largest prompt and {@code M} the largest output of one request;
 * the service they receive over any interval therefore differs by at most twice that. {@code
 * VtcQueueTest} checks it.
 *
 * <p>Not thread-safe; the owning model scheduler serialises access. Choosing a tenant scans the
 * band's backlogged tenants, which is cheap for the tens of tenants a model serves.
 */
public final class VtcQueue<T> {
  /** The paper's default costs: a generated token costs twice a prompt token. */
  public static final double DEFAULT_WP = 1.0;

  public static final double DEFAULT_WQ = 2.0;

  /** A queued request; keep it to {@link #remove} it. */
  public static final class Entry<T> {
    final String tenant;
    final Priority priority;
    final long promptTokens;
    final T payload;
    final long seq;
    boolean live = true;

    Entry(String tenant, Priority priority, long promptTokens, T payload, long seq) {
      this.tenant = tenant;
      this.priority = priority;
      this.promptTokens = promptTokens;
      this.payload = payload;
      this.seq = seq;
    }

    public T payload() {
      return payload;
    }

    public String tenant() {
      return tenant;
    }
  }

  private static final class TenantState {
    double counter;
    double weight = 1;
    int queued;
  }

  private final double wp;
  private final double wq;
  private final Map<String, TenantState> tenants = new HashMap<>();
  private final EnumMap<Priority, Map<String, ArrayDeque<Entry<T>>>> bands =
      new EnumMap<>(Priority.class);
  private int size;
  private long nextSeq;
  private double lastServedCounter;

  public VtcQueue() {
    this(DEFAULT_WP, DEFAULT_WQ);
  }

  public VtcQueue(double wp, double wq) {
    this.wp = wp;
    this.wq = wq;
    for (Priority p : Priority.values()) {
      bands.put(p, new HashMap<>());
    }
  }

  public Entry<T> enqueue(
      String tenant, int weight, Priority priority, long promptTokens, T payload) {
    TenantState t = tenants.computeIfAbsent(tenant, k -> new TenantState());
    t.weight = Math.max(1, weight);
    if (t.queued == 0) {
      t.counter = Math.max(t.counter, liftTarget(tenant));
    }
    Entry<T> e = new Entry<>(tenant, priority, promptTokens, payload, nextSeq++);
    bands.get(priority).computeIfAbsent(tenant, k -> new ArrayDeque<>()).addLast(e);
    t.queued++;
    size++;
    return e;
  }

  private double liftTarget(String arriving) {
    double min = Double.POSITIVE_INFINITY;
    for (Map.Entry<String, TenantState> e : tenants.entrySet()) {
      if (e.getValue().queued > 0 && !e.getKey().equals(arriving)) {
        min = Math.min(min, e.getValue().counter);
      }
    }
    return min == Double.POSITIVE_INFINITY ? lastServedCounter : min;
  }

  /** Takes the next request to dispatch and charges its prompt; null when empty. */
  public Entry<T> poll() {
    for (Priority p : Priority.values()) {
      Map<String, ArrayDeque<Entry<T>>> band = bands.get(p);
      String best = null;
      double bestCounter = Double.POSITIVE_INFINITY;
      long bestSeq = Long.MAX_VALUE;
      for (Map.Entry<String, ArrayDeque<Entry<T>>> e : band.entrySet()) {
        Entry<T> head = e.getValue().peekFirst();
        if (head != null) {
          double c = tenants.get(e.getKey()).counter;
          // Equal counters: the request that came first.
          if (c < bestCounter || (c == bestCounter && head.seq < bestSeq)) {
            bestCounter = c;
            bestSeq = head.seq;
            best = e.getKey();
          }
        }
      }
      if (best == null) {
        continue;
      }
      ArrayDeque<Entry<T>> q = band.get(best);
      Entry<T> e = q.pollFirst();
      if (q.isEmpty()) {
        band.remove(best);
      }
      e.live = false;
      TenantState t = tenants.get(best);
      t.queued--;
      size--;
      t.counter += wp * e.promptTokens / t.weight;
      lastServedCounter = t.counter;
      return e;
    }
    return null;
  }

  /** Removes a request that is still queued (cancelled, timed out); false when already gone. */
  public boolean remove(Entry<T> e) {
    if (!e.live) {
      return false;
    }
    Map<String, ArrayDeque<Entry<T>>> band = bands.get(e.priority);
    ArrayDeque<Entry<T>> q = band.get(e.tenant);
    if (q == null || !q.remove(e)) {
      return false;
    }
    if (q.isEmpty()) {
      band.remove(e.tenant);
    }
    e.live = false;
    tenants.get(e.tenant).queued--;
    size--;
    return true;
  }

  /** Charges {@code generatedTokens} of output to the tenant's counter. */
  public void charge(String tenant, long generatedTokens) {
    TenantState t = tenants.get(tenant);
    if (t != null) {
      t.counter += wq * generatedTokens / t.weight;
    }
  }

  /** The tenant's virtual token counter (0 for a tenant never seen). */
  public double counter(String tenant) {
    TenantState t = tenants.get(tenant);
    return t == null ? 0 : t.counter;
  }

  public int size() {
    return size;
  }

  public int queued(String tenant) {
    TenantState t = tenants.get(tenant);
    return t == null ? 0 : t.queued;
  }

  public boolean isEmpty() {
    return size == 0;
  }
}
