package dev.flotilla.gateway.metrics;

import dev.flotilla.gateway.schedule.ModelScheduler;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The gateway's Prometheus metrics (prefix {@code flotilla_gateway_}).
 *
 * <p>Tenant labels are bounded: the first {@code maxTenantLabels} distinct tenants this replica
 * sees get their own label value, every later one is reported as {@code other}. With the default
 * of 100 and a handful of models and statuses, a series family stays in the low thousands.
 */
public final class GatewayMetrics {
  public static final String OTHER = "other";
  private final MeterRegistry registry;
  private final int maxTenantLabels;
  private final Set<String> labelledTenants = ConcurrentHashMap.newKeySet();

  public GatewayMetrics(MeterRegistry registry, int maxTenantLabels) {
    this.registry = registry;
    this.maxTenantLabels = maxTenantLabels;
  }

  /** The label value for a tenant: its name while under the cap, else {@code other}. */
  public String tenantLabel(String tenant) {
    if (labelledTenants.contains(tenant)) {
      return tenant;
    }
    synchronized (labelledTenants) {
      if (labelledTenants.size() < maxTenantLabels) {
        labelledTenants.add(tenant);
        return tenant;
      }
    }
    return OTHER;
  }

  public void request(String tenant, String model, String status) {
    Counter.builder("flotilla.gateway.requests").description("Requests by outcome")
        .tags("tenant", tenantLabel(tenant), "model", model, "status", status)
        .register(registry).increment();
  }

  public void rejected(String reason) {
    Counter.builder("flotilla.gateway.rejections").description("Requests refused, by reason")
        .tags("reason", reason).register(registry).increment();
  }

  public void tokens(String tenant, long prompt, long completion) {
    String t = tenantLabel(tenant);
    Counter.builder("flotilla.gateway.tokens").tags("tenant", t, "direction", "in")
        .register(registry).increment(prompt);
    Counter.builder("flotilla.gateway.tokens").tags("tenant", t, "direction", "out")
        .register(registry).increment(completion);
  }

  public void timeToFirstToken(String model, long nanos) {
    timer("flotilla.gateway.time.to.first.token", "Arrival to first token", model, nanos);
  }

  public void timeBetweenTokens(String model, long nanos) {
    timer("flotilla.gateway.time.between.tokens", "Gap between streamed chunks", model, nanos);
  }

  public void queueTime(String model, long nanos) {
    timer("flotilla.gateway.queue.time", "Held while cold plus fair-queue wait", model, nanos);
  }

  /** A request started waiting for a cold model (cold-start demand). */
  public void held(String model) {
    Counter.builder("flotilla.gateway.held").description("Requests held while cold")
        .tags("model", model).register(registry).increment();
  }

  /** A hold ended: released to a worker, timed out, or cancelled by the client. */
  public void heldDuration(String model, String outcome, long nanos) {
    timer("flotilla.gateway.held.duration", "Time held for a cold model", nanos,
        "model", model, "outcome", outcome);
  }

  private void timer(String name, String description, String model, long nanos) {
    timer(name, description, nanos, "model", model);
  }

  private void timer(String name, String description, long nanos, String... tags) {
    Timer.builder(name).description(description).tags(tags)
        .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
        .maximumExpectedValue(Duration.ofMinutes(5))
        .register(registry).record(nanos, TimeUnit.NANOSECONDS);
  }

  public void completionLength(String model, long tokens) {
    DistributionSummary.builder("flotilla.gateway.completion.tokens").tags("model", model)
        .register(registry).record(tokens);
  }

  /** Scheduler hold events as metrics: the held count and the held-duration timer. */
  public ModelScheduler.Events schedulerEvents() {
    return new ModelScheduler.Events() {
      @Override
      public void held(String modelKey) {
        GatewayMetrics.this.held(modelKey);
      }

      @Override
      public void holdEnded(String modelKey, ModelScheduler.HoldOutcome outcome, long heldNanos) {
        heldDuration(modelKey, outcome.label(), heldNanos);
      }
    };
  }

  /** Registers gauges read on scrape: held requests and spool depth. */
  public void gauges(Supplier<Number> held, Supplier<Number> spoolDepth) {
    Gauge.builder("flotilla.gateway.held.requests", held).description("Requests held while cold")
        .register(registry);
    Gauge.builder("flotilla.gateway.usage.spool.depth", spoolDepth)
        .description("Usage events not yet acknowledged by Kafka").register(registry);
  }
}
