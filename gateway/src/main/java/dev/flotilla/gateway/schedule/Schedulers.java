package dev.flotilla.gateway.schedule;

import dev.flotilla.gateway.catalog.ModelEntry;
import dev.flotilla.gateway.route.WorkerRegistry;
import dev.flotilla.gateway.route.WorkerSelector;
import dev.flotilla.gateway.time.Ticker;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** One {@link ModelScheduler} per model, created on first use and woken by worker changes. */
public final class Schedulers {
  private final Map<String, ModelScheduler> byModel = new ConcurrentHashMap<>();
  private final WorkerRegistry registry;
  private final WorkerSelector selector;
  private final AutoscalerNotifier notifier;
  private final Ticker ticker;
  private final int maxHeld;
  private final int maxHeldPerTenant;
  private final HeldBytes heldBytes;
  private final Duration retryAfter;
  private final Duration queueTimeout;
  private final Duration queueRetryAfter;
  private final ModelScheduler.Events events;

  public Schedulers(
      WorkerRegistry registry,
      WorkerSelector selector,
      AutoscalerNotifier notifier,
      Ticker ticker,
      int maxHeld,
      int maxHeldPerTenant,
      long maxHeldBytesPerTenant,
      Duration retryAfter,
      Duration queueTimeout,
      Duration queueRetryAfter,
      ModelScheduler.Events events) {
    this.registry = registry;
    this.selector = selector;
    this.notifier = notifier;
    this.ticker = ticker;
    this.maxHeld = maxHeld;
    this.maxHeldPerTenant = maxHeldPerTenant;
    this.heldBytes = new HeldBytes(maxHeldBytesPerTenant);
    this.retryAfter = retryAfter;
    this.queueTimeout = queueTimeout;
    this.queueRetryAfter = queueRetryAfter;
    this.events = events;
    registry.onChange(
        model -> {
          ModelScheduler s = byModel.get(model);
          if (s != null) {
            s.workersChanged();
          }
        });
  }

  public ModelScheduler forModel(ModelEntry model) {
    ModelScheduler.Settings settings =
        new ModelScheduler.Settings(
            model.coldStartTimeout(),
            maxHeld,
            maxHeldPerTenant,
            retryAfter,
            queueTimeout,
            queueRetryAfter);
    ModelScheduler s =
        byModel.computeIfAbsent(
            model.key(),
            k ->
                new ModelScheduler(
                    k, settings, registry, selector, notifier, ticker, events, heldBytes));
    s.update(settings);
    return s;
  }

  public List<ModelScheduler> all() {
    return List.copyOf(byModel.values());
  }

  /** Expires held and queued requests and sends progress on every model. */
  public void tick() {
    byModel.values().forEach(ModelScheduler::tick);
  }
}
