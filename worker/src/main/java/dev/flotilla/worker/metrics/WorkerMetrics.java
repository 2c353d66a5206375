package dev.flotilla.worker.metrics;

import dev.flotilla.worker.engine.DeviceInfo;
import dev.flotilla.worker.scheduler.SchedulerMetrics;
import dev.flotilla.worker.scheduler.SchedulerMetrics.AdapterSource;
import dev.flotilla.worker.scheduler.SchedulerMetrics.AdapterTier;
import dev.flotilla.worker.scheduler.SchedulerSnapshot;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * The worker's Prometheus metrics (names as exported): {@code flotilla_worker_queue_seconds},
 * {@code flotilla_worker_time_to_first_token_seconds}, {@code
 * flotilla_worker_time_between_tokens_seconds} (histograms); {@code
 * flotilla_worker_tokens_generated_total}, {@code flotilla_worker_prompt_tokens_computed_total};
 * {@code flotilla_worker_batch_size} and {@code flotilla_worker_step_rows} per engine step; {@code
 * flotilla_worker_kv_blocks_used}, {@code flotilla_worker_kv_blocks_total}, {@code
 * flotilla_worker_kv_bytes_used_bytes}, {@code flotilla_worker_kv_bytes_total_bytes}, {@code
 * flotilla_worker_queue_depth}, {@code flotilla_worker_running_sequences}, {@code
 * flotilla_worker_prefix_cache_blocks}, {@code flotilla_worker_adapters_resident}, {@code
 * flotilla_worker_adapter_pool_bytes}, {@code flotilla_worker_adapters_host}, {@code
 * flotilla_worker_adapter_host_bytes} (gauges); {@code
 * flotilla_worker_prefix_cache_lookup_tokens_total} and {@code
 * flotilla_worker_prefix_cache_hit_tokens_total} (the hit rate is the ratio of their rates), {@code
 * flotilla_worker_prefix_cache_evictions_total}, {@code
 * flotilla_worker_adapter_loads_total{result,source}} (source {@code disk} or {@code host}: the
 * host tier, no read), {@code flotilla_worker_adapter_load_seconds} (loads from disk), {@code
 * flotilla_worker_adapter_evictions_total{tier}} (from the {@code pool} to the host tier, or from
 * the {@code host} tier, freed), {@code flotilla_worker_preemptions_total}; on a GPU {@code
 * flotilla_worker_gpu_memory_total_bytes} and {@code flotilla_worker_gpu_memory_engine_bytes}
 * (gauges, tagged with the device and the GPU's name).
 */
public final class WorkerMetrics implements SchedulerMetrics {
  private final Timer queue;
  private final Timer firstToken;
  private final Timer tokenGap;
  private final Counter tokens;
  private final Counter promptTokens;
  private final DistributionSummary batchSize;
  private final DistributionSummary stepRows;
  private final Counter preemptions;
  private final Counter loadsFromDisk;
  private final Counter loadsFromHost;
  private final Counter loadsFailed;
  private final Timer loadTime;
  private final Counter prefixLookupTokens;
  private final Counter prefixHitTokens;
  private final Counter prefixEvictions;
  private final AtomicInteger prefixCachedBlocks = new AtomicInteger();
  private final Counter poolEvictions;
  private final Counter hostEvictions;

  public WorkerMetrics(MeterRegistry registry, Supplier<SchedulerSnapshot> snapshot) {
    queue =
        latency("flotilla.worker.queue", "Time from arrival to admission into the batch", registry);
    firstToken =
        latency(
            "flotilla.worker.time.to.first.token",
            "Time from arrival to the first generated token",
            registry);
    tokenGap =
        latency(
            "flotilla.worker.time.between.tokens",
            "Time between consecutive tokens of a sequence",
            registry);
    tokens =
        Counter.builder("flotilla.worker.tokens.generated")
            .description("Tokens generated")
            .register(registry);
    promptTokens =
        Counter.builder("flotilla.worker.prompt.tokens.computed")
            .description(
                "Prompt tokens run through the model (prefill and recomputation after preemption;"
                    + " the n choices of a request share one prompt)")
            .register(registry);
    batchSize =
        DistributionSummary.builder("flotilla.worker.batch.size")
            .description("Sequences per engine step")
            .publishPercentileHistogram()
            .maximumExpectedValue(1024.0)
            .register(registry);
    stepRows =
        DistributionSummary.builder("flotilla.worker.step.rows")
            .description("Token rows per engine step")
            .publishPercentileHistogram()
            .maximumExpectedValue(8192.0)
            .register(registry);
    preemptions =
        Counter.builder("flotilla.worker.preemptions")
            .description(
                "Sequences preempted (KV blocks freed, recomputed later) because the KV cache ran out")
            .register(registry);
    loadsFromDisk = adapterLoads(registry, "ok", "disk");
    loadsFromHost = adapterLoads(registry, "ok", "host");
    loadsFailed = adapterLoads(registry, "failed", "disk");
    loadTime =
        Timer.builder("flotilla.worker.adapter.load")
            .description("Adapter load duration")
            .publishPercentileHistogram()
            .minimumExpectedValue(Duration.ofMillis(1))
            .maximumExpectedValue(Duration.ofMinutes(2))
            .register(registry);
    prefixLookupTokens =
        Counter.builder("flotilla.worker.prefix.cache.lookup.tokens")
            .description(
                "Tokens of admitted sequences offered to the prefix cache (hit rate: hit tokens /"
                    + " lookup tokens)")
            .register(registry);
    prefixHitTokens =
        Counter.builder("flotilla.worker.prefix.cache.hit.tokens")
            .description("Tokens whose KV blocks came from the prefix cache instead of a prefill")
            .register(registry);
    prefixEvictions =
        Counter.builder("flotilla.worker.prefix.cache.evictions")
            .description("Cached KV blocks taken for new data when no block was free")
            .register(registry);
    Gauge.builder("flotilla.worker.prefix.cache.blocks", prefixCachedBlocks, AtomicInteger::get)
        .description(
            "KV blocks in the prefix cache, held by sequences or reclaimable (counted as free)")
        .register(registry);
    poolEvictions = adapterEvictions(registry, "pool");
    hostEvictions = adapterEvictions(registry, "host");
    Gauge.builder("flotilla.worker.kv.blocks.used", () -> snapshot.get().usedKvBlocks())
        .description("KV blocks in use, resident adapters' share included")
        .register(registry);
    Gauge.builder("flotilla.worker.kv.blocks.total", () -> snapshot.get().totalKvBlocks())
        .description("KV blocks in the pool")
        .register(registry);
    Gauge.builder("flotilla.worker.kv.bytes.used", () -> snapshot.get().usedKvBytes())
        .description("Bytes of the KV blocks in use, in the cache's dtype")
        .baseUnit("bytes")
        .register(registry);
    Gauge.builder("flotilla.worker.kv.bytes.total", () -> snapshot.get().totalKvBytes())
        .description("Bytes of the KV block pool, in the cache's dtype")
        .baseUnit("bytes")
        .register(registry);
    Gauge.builder("flotilla.worker.queue.depth", () -> snapshot.get().queueDepth())
        .description("Sequences waiting")
        .register(registry);
    Gauge.builder("flotilla.worker.running.sequences", () -> snapshot.get().running())
        .description("Sequences in the batch")
        .register(registry);
    Gauge.builder(
            "flotilla.worker.adapters.resident", () -> snapshot.get().residentAdapters().size())
        .description("Adapters resident in the pool a step reads")
        .register(registry);
    Gauge.builder("flotilla.worker.adapter.pool", () -> snapshot.get().adapterPoolBytes())
        .description("Bytes of the resident adapters' weights, charged to the KV budget")
        .baseUnit("bytes")
        .register(registry);
    Gauge.builder("flotilla.worker.adapters.host", () -> snapshot.get().hostAdapters())
        .description("Adapters kept in the host tier (evicted from the pool, not freed)")
        .register(registry);
    Gauge.builder("flotilla.worker.adapter.host", () -> snapshot.get().adapterHostBytes())
        .description("Bytes of the adapters kept in the host tier")
        .baseUnit("bytes")
        .register(registry);
  }

  private static Counter adapterLoads(MeterRegistry registry, String result, String source) {
    return Counter.builder("flotilla.worker.adapter.loads")
        .tag("result", result)
        .tag("source", source)
        .description("Adapter loads into the engine, by where they read from")
        .register(registry);
  }

  private static Counter adapterEvictions(MeterRegistry registry, String tier) {
    return Counter.builder("flotilla.worker.adapter.evictions")
        .tag("tier", tier)
        .description("Adapters evicted, by the tier they left")
        .register(registry);
  }

  /**
   * GPU memory gauges for a worker on {@code device}: the GPU's total and what the engine holds
   * (weights, KV cache, adapters, scratch), read from the driver at each scrape.
   */
  public static void registerGpu(MeterRegistry registry, String device, Supplier<DeviceInfo> info) {
    String name = info.get().name();
    Gauge.builder("flotilla.worker.gpu.memory.total", () -> info.get().totalBytes())
        .baseUnit("bytes")
        .tag("device", device)
        .tag("gpu", name)
        .description("Memory of the GPU the model runs on")
        .register(registry);
    Gauge.builder("flotilla.worker.gpu.memory.engine", () -> info.get().engineBytes())
        .baseUnit("bytes")
        .tag("device", device)
        .tag("gpu", name)
        .description("GPU memory the engine holds: weights, KV cache, adapters, scratch")
        .register(registry);
  }

  private static Timer latency(String name, String description, MeterRegistry registry) {
    return Timer.builder(name)
        .description(description)
        .publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofMillis(1))
        .maximumExpectedValue(Duration.ofMinutes(5))
        .register(registry);
  }

  @Override
  public void queued(long nanos) {
    queue.record(nanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void firstToken(long nanos) {
    firstToken.record(nanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void tokenGap(long nanos) {
    tokenGap.record(nanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void tokensGenerated(int count) {
    tokens.increment(count);
  }

  @Override
  public void promptTokensComputed(int count) {
    promptTokens.increment(count);
  }

  @Override
  public void step(int sequences, int rows) {
    batchSize.record(sequences);
    stepRows.record(rows);
  }

  @Override
  public void preempted() {
    preemptions.increment();
  }

  @Override
  public void adapterLoaded(AdapterSource source, long nanos) {
    if (source == AdapterSource.HOST) {
      loadsFromHost.increment();
    } else {
      loadsFromDisk.increment();
      loadTime.record(nanos, TimeUnit.NANOSECONDS);
    }
  }

  @Override
  public void adapterLoadFailed(long nanos) {
    loadsFailed.increment();
    loadTime.record(nanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void prefixLookup(int lookupTokens, int hitTokens) {
    prefixLookupTokens.increment(lookupTokens);
    prefixHitTokens.increment(hitTokens);
  }

  @Override
  public void prefixCache(int cachedBlocks, long newEvictions) {
    prefixCachedBlocks.set(cachedBlocks);
    if (newEvictions > 0) {
      prefixEvictions.increment(newEvictions);
    }
  }

  @Override
  public void adapterEvicted(AdapterTier from) {
    (from == AdapterTier.POOL ? poolEvictions : hostEvictions).increment();
  }
}
