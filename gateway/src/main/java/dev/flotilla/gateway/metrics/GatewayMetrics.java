package dev.flotilla.gateway.metrics;

import dev.flotilla.gateway.route.WorkerSelector;
import dev.flotilla.gateway.schedule.ModelScheduler;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The gateway's Prometheus metrics (prefix {@code flotilla_gateway_}).
 *
 * <p>Tenant labels are bounded: the first {@code maxTenantLabels} distinct tenants this replica
 * sees get their own label value, every later one is reported as {@code other}. With the default of
 * 100 and a handful of models and statuses, a series family stays in the low thousands.
 */
public final class GatewayMetrics {
  public static final String OTHER = "other";
  private final MeterRegistry registry;
  private final int maxTenantLabels;
  private final Set<String> labelledTenants = ConcurrentHashMap.newKeySet();
  // Meters already registered, so the request path does not rebuild their ids. Keyed by label
  // values, so as bounded as the labels are.
  private final Map<String, ModelMeters> models = new ConcurrentHashMap<>();
  private final Map<String, Counter> requests = new ConcurrentHashMap<>();
  private final Map<String, Counter> routes = new ConcurrentHashMap<>();
  private final Map<String, Counter[]> tokens = new ConcurrentHashMap<>();

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

  /**
   * The per-token and per-dispatch timers of one model, built once: a request resolves them when it
   * is admitted instead of building and looking up a meter id on every token.
   */
  public record ModelMeters(Timer timeToFirstToken, Timer timeBetweenTokens, Timer queueTime) {
    public void timeToFirstToken(long nanos) {
      timeToFirstToken.record(nanos, TimeUnit.NANOSECONDS);
    }

    public void timeBetweenTokens(long nanos) {
      timeBetweenTokens.record(nanos, TimeUnit.NANOSECONDS);
    }

    public void queueTime(long nanos) {
      queueTime.record(nanos, TimeUnit.NANOSECONDS);
    }
  }

  /** The timers of {@code model}, registered on first use. */
  public ModelMeters model(String model) {
    ModelMeters m = models.get(model);
    return m != null
        ? m
        : models.computeIfAbsent(
            model,
            k ->
                new ModelMeters(
                    timer(
                        "flotilla.gateway.time.to.first.token",
                        "Arrival to first token",
                        "model",
                        k),
                    timer(
                        "flotilla.gateway.time.between.tokens",
                        "Gap between streamed chunks",
                        "model",
                        k),
                    timer(
                        "flotilla.gateway.queue.time",
                        "Held while cold plus fair-queue wait",
                        "model",
                        k)));
  }

  public void request(String tenant, String model, String status) {
    String t = tenantLabel(tenant);
    requests
        .computeIfAbsent(
            t + '\n' + model + '\n' + status,
            k ->
                Counter.builder("flotilla.gateway.requests")
                    .description("Requests by outcome")
                    .tags("tenant", t, "model", model, "status", status)
                    .register(registry))
        .increment();
  }

  public void rejected(String reason) {
    Counter.builder("flotilla.gateway.rejections")
        .description("Requests refused, by reason")
        .tags("reason", reason)
        .register(registry)
        .increment();
  }

  public void tokens(String tenant, long prompt, long completion) {
    Counter[] inOut =
        tokens.computeIfAbsent(
            tenantLabel(tenant),
            t ->
                new Counter[] {
                  Counter.builder("flotilla.gateway.tokens")
                      .tags("tenant", t, "direction", "in")
                      .register(registry),
                  Counter.builder("flotilla.gateway.tokens")
                      .tags("tenant", t, "direction", "out")
                      .register(registry)
                });
    inOut[0].increment(prompt);
    inOut[1].increment(completion);
  }

  public void timeToFirstToken(String model, long nanos) {
    model(model).timeToFirstToken(nanos);
  }

  public void timeBetweenTokens(String model, long nanos) {
    model(model).timeBetweenTokens(nanos);
  }

  public void queueTime(String model, long nanos) {
    model(model).queueTime(nanos);
  }

  /** A request started waiting for a cold model (cold-start demand). */
  public void held(String model) {
    Counter.builder("flotilla.gateway.held")
        .description("Requests held while cold")
        .tags("model", model)
        .register(registry)
        .increment();
  }

  /** A hold ended: released to a worker, timed out, or cancelled by the client. */
  public void heldDuration(String model, String outcome, long nanos) {
    timer(
            "flotilla.gateway.held.duration",
            "Time held for a cold model",
            "model",
            model,
            "outcome",
            outcome)
        .record(nanos, TimeUnit.NANOSECONDS);
  }

  private Timer timer(String name, String description, String... tags) {
    return Timer.builder(name)
        .description(description)
        .tags(tags)
        .publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofMillis(1))
        .maximumExpectedValue(Duration.ofMinutes(5))
        .register(registry);
  }

  public void completionLength(String model, long tokens) {
    DistributionSummary.builder("flotilla.gateway.completion.tokens")
        .tags("model", model)
        .register(registry)
        .record(tokens);
  }

  /**
   * A routed request by how its worker matched it ({@code prefix}: it held the longest prefix any
   * worker held; {@code adapter}: not that, but the adapter; {@code none}). The prefix share is the
   * routing's cache hit rate as the gateway knows it; the workers' prefix-cache metrics say what
   * their caches served.
   */
  public void routed(String model, WorkerSelector.Match match) {
    routes
        .computeIfAbsent(
            model + '\n' + match.label(),
            k ->
                Counter.builder("flotilla.gateway.routed.requests")
                    .description("Requests routed, by how the worker matched them")
                    .tags("model", model, "match", match.label())
                    .register(registry))
        .increment();
  }

  /** Scheduler events as metrics: the held count, the held-duration timer, routes by match. */
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

      @Override
      public void routed(String modelKey, WorkerSelector.Match match) {
        GatewayMetrics.this.routed(modelKey, match);
      }
    };
  }

  /** Registers gauges read on scrape: held requests and spool depth. */
  public void gauges(Supplier<Number> held, Supplier<Number> spoolDepth) {
    Gauge.builder("flotilla.gateway.held.requests", held)
        .description("Requests held while cold")
        .register(registry);
    Gauge.builder("flotilla.gateway.usage.spool.depth", spoolDepth)
        .description("Usage events not yet acknowledged by Kafka")
        .register(registry);
  }

  /** Registers the gauge of the gateway replicas this one shares each tenant's limits with. */
  public void replicas(Supplier<Number> replicas) {
    Gauge.builder("flotilla.gateway.limit.replicas", replicas)
        .description(
            "Gateway replicas that share each tenant's limits (1: this one enforces them whole)")
        .register(registry);
  }

  /** Registers the usage spool's size and its limit, read on scrape, to alert before it fills. */
  public void spoolSize(Supplier<Number> bytes, Supplier<Number> limitBytes) {
    Gauge.builder("flotilla.gateway.usage.spool.bytes", bytes)
        .description("Bytes the usage spool's files hold")
        .baseUnit("bytes")
        .register(registry);
    Gauge.builder("flotilla.gateway.usage.spool.limit", limitBytes)
        .description("Size limit of the usage spool; appends past it fail")
        .baseUnit("bytes")
        .register(registry);
  }
}
