package dev.flotilla.operator.autoscaler;

import io.javaoperatorsdk.operator.processing.event.ResourceID;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * Demand reported by gateways, per model, and what the autoscaler remembers per model between
 * decisions. Shared by the gRPC service (writes) and the ModelDeployment reconciler (reads); a
 * listener set by the reconciler wakes it when a report arrives.
 */
public final class DemandStore {
  private final Map<ResourceID, DemandWindow> windows = new ConcurrentHashMap<>();
  private final Map<ResourceID, KpaAutoscaler.Memory> memories = new ConcurrentHashMap<>();
  private final Map<ResourceID, Published> published = new ConcurrentHashMap<>();
  private final Set<BiConsumer<ResourceID, Published>> subscribers = ConcurrentHashMap.newKeySet();
  private volatile Consumer<ResourceID> listener = id -> {};

  /** The autoscaler's latest applied decision for a model, as gateways are told it. */
  public record Published(int desired, int ready, String reason) {}

  /** Called with each model a report mentions, after it was recorded. */
  public void onDemand(Consumer<ResourceID> listener) {
    this.listener = listener;
  }

  /**
   * @param gateway the demand's source: one authenticated demand stream ({@link
   *     AutoscalerGrpcService} names it by caller identity, reported gateway id and stream)
   */
  public void record(ResourceID model, String gateway, Instant at, double concurrency, int held) {
    DemandWindow window = windows.computeIfAbsent(model, m -> new DemandWindow());
    synchronized (window) {
      window.record(gateway, at, concurrency, held);
    }
  }

  /** Wakes whoever acts on the demand of {@code model}. */
  public void notifyDemand(ResourceID model) {
    listener.accept(model);
  }

  public DemandSnapshot snapshot(
      ResourceID model, Instant now, Duration stable, Duration panic, Duration expiry) {
    DemandWindow window = windows.get(model);
    if (window == null) {
      return DemandSnapshot.NONE;
    }
    synchronized (window) {
      DemandSnapshot snapshot = window.snapshot(now, stable, panic, expiry);
      if (window.isEmpty()) {
        windows.remove(model, window);
      }
      return snapshot;
    }
  }

  public KpaAutoscaler.Memory memory(ResourceID model) {
    return memories.get(model);
  }

  public void remember(ResourceID model, KpaAutoscaler.Memory memory) {
    memories.put(model, memory);
  }

  /** Drops a source's reports at once, when its stream closed. */
  public void dropGateway(String gateway) {
    windows.forEach(
        (model, window) -> {
          synchronized (window) {
            window.drop(gateway);
          }
        });
  }

  /** Records the decision the reconciler applied; subscribers hear of changes. */
  public void publish(ResourceID model, Published decision) {
    Published before = published.put(model, decision);
    if (!decision.equals(before)) {
      subscribers.forEach(s -> s.accept(model, decision));
    }
  }

  public Published published(ResourceID model) {
    return published.get(model);
  }

  public void subscribe(BiConsumer<ResourceID, Published> subscriber) {
    subscribers.add(subscriber);
  }

  public void unsubscribe(BiConsumer<ResourceID, Published> subscriber) {
    subscribers.remove(subscriber);
  }

  /** Forgets a deleted model. */
  public void forget(ResourceID model) {
    windows.remove(model);
    memories.remove(model);
    published.remove(model);
  }
}
