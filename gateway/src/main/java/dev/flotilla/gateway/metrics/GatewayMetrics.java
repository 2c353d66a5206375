package dev.flotilla.gateway.metrics;

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

  public void heldDuration(String model, long nanos) {
    timer("flotilla.gateway.held.duration", "Time held for a cold model", model, nanos);
  }

  private void timer(String name, String description, String model, long nanos) {
    Timer.builder(name).description(description).tags("model", model)
        .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
        .maximumExpectedValue(Duration.ofMinutes(5))
        .register(registry).record(nanos, TimeUnit.NANOSECONDS);
  }

  public void completionLength(String model, long tokens) {
    DistributionSummary.builder("flotilla.gateway.completion.tokens").tags("model", model)
        .register(registry).record(tokens);
  }

  /** Registers gauges read on scrape: held requests and spool depth. */
  public void gauges(Supplier<Number> held, Supplier<Number> spoolDepth) {
    Gauge.builder("flotilla.gateway.held.requests", held).description("Requests held while cold")
        .register(registry);
    Gauge.builder("flotilla.gateway.usage.spool.depth", spoolDepth)
        .description("Usage events not yet acknowledged by Kafka").register(registry);
  }
}
