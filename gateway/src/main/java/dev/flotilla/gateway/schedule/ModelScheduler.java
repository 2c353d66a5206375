package dev.flotilla.gateway.schedule;

import dev.flotilla.api.crd.Priority;
import dev.flotilla.api.v1.HeldProgress;
import dev.flotilla.gateway.queue.VtcQueue;
import dev.flotilla.gateway.route.WorkerRegistry;
import dev.flotilla.gateway.route.WorkerSelector;
import dev.flotilla.gateway.route.WorkerView;
import dev.flotilla.gateway.status.GatewayStatus;
import dev.flotilla.gateway.time.Ticker;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Where one model's requests wait between admission and a worker.
 *
 * <ul>
 *   <li><b>Held while cold:</b> with no ready worker, a request waits in a bounded hold queue (per
 *       model and per tenant counts, and per tenant bytes across every model: {@link HeldBytes})
 *       and the autoscaler is told at once. When a worker becomes ready, held requests move to the
 *       fair queue in arrival order. A request still held after the model's cold-start timeout
 *       fails UNAVAILABLE with RetryInfo.
 *   <li><b>Fair queue:</b> with ready workers, requests wait in a {@link VtcQueue} and are
 *       dispatched while some ready worker has a free batch slot, so queueing happens here and not
 *       blind inside workers. A request still queued after the queue timeout fails UNAVAILABLE with
 *       RetryInfo: the tenant is within its limits (those answer RESOURCE_EXHAUSTED before the
 *       queue), the model's workers are saturated, and UNAVAILABLE is the code clients and the SDK
 *       retry with backoff.
 *   <li><b>Dispatch:</b> the {@link WorkerSelector} picks the worker; the request's {@link
 *       Request#dispatch} callback starts the worker call outside the scheduler's lock.
 * </ul>
 *
 * <p>Time comes from an injected {@link Ticker}; {@link #tick} expires held and queued requests and
 * sends progress, driven by a timer in production and by hand in tests. {@link Events} hears about
 * holds (for metrics).
 */
public final class ModelScheduler {
  /** What the scheduler needs of a request. */
  public interface Request {
    String tenant();

    int weight();

    Priority priority();

    long promptTokens();

    /** Bytes the request keeps in the gateway's memory while it waits: its size on the wire. */
    long heldBytes();

    String adapter();

    /** The input's prefix keys ({@link dev.flotilla.api.prefix.PrefixKeys}), shortest first. */
    default long[] prefixKeys() {
      return new long[0];
    }

    /** Worker ids that already failed this request. */
    Set<String> excluded();

    boolean wantsProgress();

    /** Called once, outside the lock, with the worker to run on. */
    void dispatch(WorkerView worker, long queuedNanos);

    /** Called once, outside the lock, when the request cannot be scheduled. */
    void reject(RejectReason reason, StatusRuntimeException error);

    void progress(HeldProgress progress);
  }

  /** Why the scheduler refused a request; also the rejections metric label. */
  public enum RejectReason {
    HOLD_FULL,
    HELD_BYTES,
    COLD_START_TIMEOUT,
    QUEUE_TIMEOUT,
    NO_WORKER;

    public String label() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /** How a hold ended; also the held-duration metric label. */
  public enum HoldOutcome {
    RELEASED,
    TIMED_OUT,
    CANCELLED;

    public String label() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /** Hears about holds and routes, outside the scheduler's lock. */
  public interface Events {
    Events NONE =
        new Events() {
          @Override
          public void held(String modelKey) {}

          @Override
          public void holdEnded(String modelKey, HoldOutcome outcome, long heldNanos) {}
        };

    /** A request started waiting for a cold model. */
    void held(String modelKey);

    void holdEnded(String modelKey, HoldOutcome outcome, long heldNanos);

    /** A request went to a worker, which matched it so. */
    default void routed(String modelKey, WorkerSelector.Match match) {}
  }

  /**
   * Caps and timing of one model.
   *
   * @param queueTimeout longest wait in the fair queue (with ready workers) before UNAVAILABLE
   * @param retryAfterQueueTimeout RetryInfo delay after a queue timeout
   */
  public record Settings(
      Duration coldStartTimeout,
      int maxHeld,
      int maxHeldPerTenant,
      Duration retryAfterColdTimeout,
      Duration queueTimeout,
      Duration retryAfterQueueTimeout) {}

  private static final class Slot {
    final Request request;
    final long arrived;
    final long bytes;
    VtcQueue.Entry<Slot> queued;

    /** When it entered the fair queue; -1 while never queued. */
    long queuedAt = -1;

    boolean held;
    boolean done;

    Slot(Request request, long arrived) {
      this.request = request;
      this.arrived = arrived;
      this.bytes = request.heldBytes();
    }
  }

  /** A handle to withdraw a request that has not been dispatched yet. */
  public final class Ticket {
    private final Slot slot;

    private Ticket(Slot slot) {
      this.slot = slot;
    }

    /** Removes the request if it is still waiting; true when it was. */
    public boolean cancel() {
      long heldFor = -1;
      synchronized (ModelScheduler.this) {
        if (slot.done) {
          return false;
        }
        slot.done = true;
        if (slot.held) {
          held.remove(slot);
          unhold(slot);
          heldFor = ticker.nanos() - slot.arrived;
        } else if (slot.queued != null) {
          queue.remove(slot.queued);
          waiting.remove(slot);
        }
      }
      if (heldFor >= 0) {
        events.holdEnded(modelKey, HoldOutcome.CANCELLED, heldFor);
      }
      return true;
    }
  }

  private final String modelKey;
  private final WorkerRegistry registry;
  private final WorkerSelector selector;
  private final AutoscalerNotifier notifier;
  private final Ticker ticker;
  private final Events events;
  private final HeldBytes heldBytes;
  private volatile Settings settings;
  private final VtcQueue<Slot> queue = new VtcQueue<>();

  /** Queued slots in the order they entered the fair queue, for the queue timeout. */
  private final java.util.LinkedHashSet<Slot> waiting = new java.util.LinkedHashSet<>();

  private final ArrayDeque<Slot> held = new ArrayDeque<>();
  private final Map<String, Integer> heldByTenant = new HashMap<>();

  /**
   * Generated tokens charged since the queue last saw them, per tenant. Charging happens on every
   * streamed chunk, on the threads that relay tokens; it adds here without the scheduler's lock
   * (which dispatch holds while it routes), and every locked step that reads the counters moves
   * these into the queue first, so it sees every charge made before it.
   */
  private final Map<String, AtomicLong> uncharged = new ConcurrentHashMap<>();

  private int inFlight;
  private long arrivals;

  public ModelScheduler(
      String modelKey,
      Settings settings,
      WorkerRegistry registry,
      WorkerSelector selector,
      AutoscalerNotifier notifier,
      Ticker ticker,
      Events events,
      HeldBytes heldBytes) {
    this.modelKey = modelKey;
    this.heldBytes = heldBytes;
    this.events = events;
    this.settings = settings;
    this.registry = registry;
    this.selector = selector;
    this.notifier = notifier;
    this.ticker = ticker;
  }

  public String modelKey() {
    return modelKey;
  }

  public void update(Settings settings) {
    this.settings = settings;
  }

  /** Admits a request: dispatches it now, queues it, holds it, or rejects it. */
  public Ticket submit(Request request) {
    List<Runnable> actions = new ArrayList<>();
    Slot slot;
    boolean notify = false;
    synchronized (this) {
      arrivals++;
      slot = new Slot(request, ticker.nanos());
      if (registry.readyCount(modelKey) == 0) {
        Settings s = settings;
        int tenantHeld = heldByTenant.getOrDefault(request.tenant(), 0);
        if (held.size() >= s.maxHeld() || tenantHeld >= s.maxHeldPerTenant()) {
          slot.done = true;
          StatusRuntimeException e =
              GatewayStatus.unavailable(
                  "model "
                      + modelKey
                      + " is starting and already holds the most requests it may; retry later",
                  s.retryAfterColdTimeout().toNanos());
          actions.add(() -> request.reject(RejectReason.HOLD_FULL, e));
        } else if (!heldBytes.tryReserve(request.tenant(), slot.bytes)) {
          slot.done = true;
          StatusRuntimeException e =
              GatewayStatus.resourceExhausted(
                  "tenant:" + request.tenant(),
                  "tenant "
                      + request.tenant()
                      + " already has the most request bytes it may have held while models start ("
                      + heldBytes.maxPerTenant()
                      + "); retry later",
                  s.retryAfterColdTimeout().toNanos());
          actions.add(() -> request.reject(RejectReason.HELD_BYTES, e));
        } else {
          slot.held = true;
          held.addLast(slot);
          heldByTenant.merge(request.tenant(), 1, Integer::sum);
          notify = true;
          if (request.wantsProgress()) {
            HeldProgress p = progress(HeldProgress.Phase.WAITING_FOR_WORKER, slot, held.size());
            actions.add(() -> request.progress(p));
          }
        }
      } else {
        enqueue(slot, request.promptTokens());
        pump(actions);
        if (!slot.done && request.wantsProgress()) {
          HeldProgress p = progress(HeldProgress.Phase.QUEUED, slot, queue.size());
          actions.add(() -> request.progress(p));
        }
      }
    }
    if (notify) {
      events.held(modelKey);
      notifier.heldWhileCold(modelKey);
    }
    actions.forEach(Runnable::run);
    return new Ticket(slot);
  }

  /**
   * Puts a request that failed on a worker before its first token back at the front: it is
   * dispatched to another worker when one has a free slot, or rejected when none is left.
   */
  public void retry(Request request) {
    List<Runnable> actions = new ArrayList<>();
    synchronized (this) {
      Slot slot = new Slot(request, ticker.nanos());
      Optional<WorkerSelector.Route> w =
          selector.route(
              registry.views(modelKey),
              request.adapter(),
              request.prefixKeys(),
              request.excluded());
      if (w.isPresent()) {
        start(slot, w.get(), actions);
      } else if (registry.views(modelKey).stream()
          .anyMatch(v -> v.ready() && !request.excluded().contains(v.id()))) {
        enqueue(slot, 0);
      } else {
        slot.done = true;
        StatusRuntimeException e =
            GatewayStatus.unavailable(
                "no other worker of model " + modelKey + " could take the request",
                settings.retryAfterColdTimeout().toNanos());
        actions.add(() -> request.reject(RejectReason.NO_WORKER, e));
      }
    }
    actions.forEach(Runnable::run);
  }

  /** A dispatched request ended; its worker slot is free again. */
  public void finished(String workerId) {
    registry.finished(workerId);
    synchronized (this) {
      inFlight = Math.max(0, inFlight - 1);
    }
    workersChanged();
  }

  /** Workers changed (ready, stats, finished requests): release held requests and dispatch. */
  public void workersChanged() {
    List<Runnable> actions = new ArrayList<>();
    synchronized (this) {
      if (!held.isEmpty() && registry.readyCount(modelKey) > 0) {
        long now = ticker.nanos();
        while (!held.isEmpty()) {
          Slot s = held.pollFirst();
          unhold(s);
          long heldFor = now - s.arrived;
          actions.add(() -> events.holdEnded(modelKey, HoldOutcome.RELEASED, heldFor));
          enqueue(s, s.request.promptTokens());
        }
      }
      pump(actions);
    }
    actions.forEach(Runnable::run);
  }

  /** Charges generated tokens to the tenant's virtual counter. */
  public void charge(String tenant, long tokens) {
    AtomicLong pending = uncharged.get(tenant);
    if (pending == null) {
      pending = uncharged.computeIfAbsent(tenant, k -> new AtomicLong());
    }
    pending.addAndGet(tokens);
  }

  public synchronized double virtualCounter(String tenant) {
    settleCharges();
    return queue.counter(tenant);
  }

  /** Moves the charges made without the lock into the queue's counters; under the lock. */
  private void settleCharges() {
    for (Map.Entry<String, AtomicLong> e : uncharged.entrySet()) {
      long tokens = e.getValue().getAndSet(0);
      if (tokens != 0) {
        queue.charge(e.getKey(), tokens);
      }
    }
  }

  /** Expires held requests past the cold-start timeout and sends progress to those who asked. */
  public void tick() {
    List<Runnable> actions = new ArrayList<>();
    synchronized (this) {
      long now = ticker.nanos();
      Settings s = settings;
      long timeout = s.coldStartTimeout().toNanos();
      int position = 0;
      for (Iterator<Slot> it = held.iterator(); it.hasNext(); ) {
        Slot slot = it.next();
        if (now - slot.arrived >= timeout) {
          it.remove();
          slot.done = true;
          unhold(slot);
          StatusRuntimeException e =
              GatewayStatus.unavailable(
                  "no worker of model "
                      + modelKey
                      + " became ready within "
                      + s.coldStartTimeout().toSeconds()
                      + "s",
                  s.retryAfterColdTimeout().toNanos());
          long heldFor = now - slot.arrived;
          actions.add(() -> events.holdEnded(modelKey, HoldOutcome.TIMED_OUT, heldFor));
          actions.add(() -> slot.request.reject(RejectReason.COLD_START_TIMEOUT, e));
        } else {
          position++;
          if (slot.request.wantsProgress()) {
            boolean starting = !registry.views(modelKey).isEmpty();
            HeldProgress p =
                progress(
                    starting
                        ? HeldProgress.Phase.WORKER_STARTING
                        : HeldProgress.Phase.WAITING_FOR_WORKER,
                    slot,
                    position);
            actions.add(() -> slot.request.progress(p));
          }
        }
      }
      expireQueued(now, s, actions);
    }
    actions.forEach(Runnable::run);
  }

  /** Fails requests that waited in the fair queue longer than the queue timeout. */
  private void expireQueued(long now, Settings s, List<Runnable> actions) {
    long timeout = s.queueTimeout().toNanos();
    for (Iterator<Slot> it = waiting.iterator(); it.hasNext(); ) {
      Slot slot = it.next();
      if (now - slot.queuedAt < timeout) {
        return; // in queue-entry order: the rest waited less
      }
      it.remove();
      queue.remove(slot.queued);
      slot.queued = null;
      slot.done = true;
      StatusRuntimeException e =
          GatewayStatus.unavailable(
              "model "
                  + modelKey
                  + " is saturated: the request waited "
                  + s.queueTimeout().toSeconds()
                  + "s in the gateway's queue",
              s.retryAfterQueueTimeout().toNanos());
      actions.add(() -> slot.request.reject(RejectReason.QUEUE_TIMEOUT, e));
    }
  }

  /** Ends a slot's hold: its tenant's count and bytes go back. */
  private void unhold(Slot slot) {
    slot.held = false;
    heldByTenant.merge(slot.request.tenant(), -1, Integer::sum);
    heldBytes.release(slot.request.tenant(), slot.bytes);
  }

  private void enqueue(Slot slot, long promptTokens) {
    settleCharges(); // a tenant joining the queue is lifted to the others' counters
    if (slot.queuedAt < 0) {
      slot.queuedAt = ticker.nanos();
    }
    slot.queued =
        queue.enqueue(
            slot.request.tenant(),
            slot.request.weight(),
            slot.request.priority(),
            promptTokens,
            slot);
    waiting.add(slot);
  }

  private HeldProgress progress(HeldProgress.Phase phase, Slot slot, int position) {
    return HeldProgress.newBuilder()
        .setPhase(phase)
        .setWaitedMs((ticker.nanos() - slot.arrived) / 1_000_000)
        .setPosition(Math.max(0, position - 1))
        .build();
  }

  private void pump(List<Runnable> actions) {
    while (!queue.isEmpty()) {
      List<WorkerView> views = registry.views(modelKey);
      if (!anyFreeSlot(views)) {
        return;
      }
      settleCharges();
      VtcQueue.Entry<Slot> e = queue.poll();
      Slot slot = e.payload();
      Optional<WorkerSelector.Route> w =
          selector.route(
              views, slot.request.adapter(), slot.request.prefixKeys(), slot.request.excluded());
      if (w.isEmpty()) {
        // Only workers this request already failed on have room: put it back and stop.
        enqueue(slot, 0);
        return;
      }
      start(slot, w.get(), actions);
    }
  }

  private static boolean anyFreeSlot(List<WorkerView> views) {
    for (WorkerView v : views) {
      if (v.ready() && v.freeSlots() > 0) {
        return true;
      }
    }
    return false;
  }

  private void start(Slot slot, WorkerSelector.Route route, List<Runnable> actions) {
    slot.done = true;
    slot.queued = null;
    waiting.remove(slot);
    inFlight++;
    WorkerView worker = route.worker();
    registry.dispatched(worker.id(), slot.request.adapter(), slot.request.prefixKeys());
    long waited = ticker.nanos() - slot.arrived;
    actions.add(() -> events.routed(modelKey, route.match()));
    actions.add(() -> slot.request.dispatch(worker, waited));
  }

  /** Demand for the autoscaler; resets the arrivals count. */
  public synchronized Demand drainDemand() {
    Demand d = new Demand(modelKey, inFlight, queue.size(), held.size(), arrivals);
    arrivals = 0;
    return d;
  }

  public synchronized Demand demand() {
    return new Demand(modelKey, inFlight, queue.size(), held.size(), arrivals);
  }

  /** One model's demand as reported to the autoscaler. */
  public record Demand(String modelKey, int inFlight, int queued, int held, long arrivals) {}
}
