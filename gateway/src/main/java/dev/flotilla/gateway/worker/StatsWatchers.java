package dev.flotilla.gateway.worker;

import dev.flotilla.gateway.route.WorkerRegistry;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Keeps one Stats stream open per registered worker and feeds the registry; a broken stream marks
 * the worker not ready and is reopened after {@code retryMs}.
 */
public final class StatsWatchers implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(StatsWatchers.class);
  private final WorkerClient client;
  private final WorkerRegistry registry;
  private final int intervalMs;
  private final long retryMs;
  private final Map<String, AutoCloseable> watches = new ConcurrentHashMap<>();
  private final ScheduledExecutorService retries =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "flotilla-stats-retry");
            t.setDaemon(true);
            return t;
          });

  public StatsWatchers(WorkerClient client, WorkerRegistry registry, int intervalMs, long retryMs) {
    this.client = client;
    this.registry = registry;
    this.intervalMs = intervalMs;
    this.retryMs = retryMs;
    registry.onEndpoints(this::watch, this::unwatch);
  }

  private void watch(WorkerRegistry.Endpoint e) {
    if (watches.containsKey(e.id())) {
      return;
    }
    java.util.concurrent.atomic.AtomicBoolean ended =
        new java.util.concurrent.atomic.AtomicBoolean();
    AutoCloseable w =
        client.watchStats(
            e.address(),
            intervalMs,
            s -> registry.updateStats(e.id(), s),
            status -> {
              LOG.debugf("stats of worker %s ended: %s", e.id(), status);
              ended.set(true);
              registry.statsLost(e.id());
              watches.remove(e.id());
              scheduleRetry(e);
            });
    watches.put(e.id(), w);
    if (ended.get()) { // failed before we stored it
      watches.remove(e.id(), w);
    }
  }

  private void scheduleRetry(WorkerRegistry.Endpoint e) {
    if (retries.isShutdown()) {
      return;
    }
    retries.schedule(
        () -> {
          if (registry.endpoint(e.id()).filter(e::equals).isPresent()) {
            watch(e);
          }
        },
        retryMs,
        TimeUnit.MILLISECONDS);
  }

  private void unwatch(WorkerRegistry.Endpoint e) {
    AutoCloseable w = watches.remove(e.id());
    if (w != null) {
      try {
        w.close();
      } catch (Exception ex) {
        LOG.debugf("closing stats watch of %s: %s", e.id(), ex);
      }
    }
    client.forget(e.address());
  }

  @Override
  public void close() {
    retries.shutdownNow();
    watches.keySet().forEach(id -> registry.endpoint(id).ifPresent(this::unwatch));
  }
}
