package dev.flotilla.gateway.bench;

import static dev.flotilla.gateway.Fixtures.keySecret;
import static dev.flotilla.gateway.Fixtures.sha256Entry;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.api.crd.Priority;
import dev.flotilla.api.v1.ChatInput;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.GenerateResponse;
import dev.flotilla.api.v1.InferenceGrpc;
import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.worker.v1.StatsRequest;
import dev.flotilla.api.worker.v1.WorkerGrpc;
import dev.flotilla.api.worker.v1.WorkerStats;
import dev.flotilla.gateway.Fixtures;
import dev.flotilla.gateway.auth.ApiKeyAuthenticator;
import dev.flotilla.gateway.auth.TenantDirectory;
import dev.flotilla.gateway.authz.Authorizer;
import dev.flotilla.gateway.catalog.ModelCatalog;
import dev.flotilla.gateway.limit.TenantLimiter;
import dev.flotilla.gateway.metrics.GatewayMetrics;
import dev.flotilla.gateway.route.WorkerRegistry;
import dev.flotilla.gateway.route.WorkerSelector;
import dev.flotilla.gateway.schedule.Schedulers;
import dev.flotilla.gateway.service.AuthorizationInterceptor;
import dev.flotilla.gateway.service.GatewayPipeline;
import dev.flotilla.gateway.service.InferenceGrpcService;
import dev.flotilla.gateway.time.Ticker;
import dev.flotilla.gateway.usage.UsageLedger;
import dev.flotilla.gateway.usage.UsageSpool;
import dev.flotilla.gateway.worker.GrpcWorkerClient;
import dev.flotilla.gateway.worker.StatsWatchers;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.stub.MetadataUtils;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Prefix-aware against plain routing, in one run, over the same two real workers: for each mode a
 * gateway pipeline of its own (gRPC service, scheduler, router) sends a chat workload of 8 system
 * prompts, each with many user turns, from a few concurrent clients. Each mode gets its own 8
 * system prompts, so what the workers hold from the first mode does not help the second. Prints a
 * line per mode and one JSON line: {@code routed_prefix_hit_rate} (affinity on) and {@code
 * routed_prefix_hit_rate_plain} (off), from the gateway's routed-requests counter, with the mean
 * TTFT and the held-prefix filter's size in the workers' reports. Given the workers' Prometheus
 * endpoints, it also reports what the workers' own prefix caches saw in each mode: {@code
 * worker_prefix_hit_rate} and {@code worker_prefix_hit_rate_plain}, tokens reused from the cache
 * over tokens offered to it, over both workers ({@code worker_prefix_hit_rates}: each worker's).
 *
 * <p>Usage: {@code RoutingBench <worker1 host:port> <worker2 host:port> [requests per mode=240]
 * [clients=4]}; {@code -Dbench.workerMetrics=<url1>,<url2>} names the workers' {@code /q/metrics}.
 */
public final class RoutingBench {
  static final String MODEL = "default/bench-model";
  static final String KEY = "flk_bench_key";
  static final int SYSTEM_PROMPTS = 8;
  static final String HIT_TOKENS = "flotilla_worker_prefix_cache_hit_tokens_total";
  static final String LOOKUP_TOKENS = "flotilla_worker_prefix_cache_lookup_tokens_total";

  private RoutingBench() {}

  /** One mode's figures. */
  record Result(
      String mode,
      int requests,
      double prefix,
      double adapter,
      double none,
      double ttftMeanMs,
      long promptTokensMean,
      int errors,
      double[] workerHitTokens,
      double[] workerLookupTokens) {
    double hitRate() {
      return prefix / (prefix + adapter + none);
    }

    /** Tokens the workers' prefix caches reused over the tokens offered to them in this mode. */
    double workerHitRate() {
      return ratio(Arrays.stream(workerHitTokens).sum(), Arrays.stream(workerLookupTokens).sum());
    }

    String workerHitRates() {
      StringBuilder s = new StringBuilder("[");
      for (int i = 0; i < workerHitTokens.length; i++) {
        s.append(i == 0 ? "" : ", ")
            .append(
                String.format(
                    Locale.ROOT, "%.3f", ratio(workerHitTokens[i], workerLookupTokens[i])));
      }
      return s.append(']').toString();
    }
  }

  /** -1 when nothing was offered, so that an empty mode cannot read as a perfect or a zero rate. */
  static double ratio(double hits, double lookups) {
    return lookups > 0 ? hits / lookups : -1;
  }

  public static void main(String[] args) throws Exception {
    BenchLogs.productionLevels();
    int requests = args.length > 2 ? Integer.parseInt(args[2]) : 240;
    int clients = args.length > 3 ? Integer.parseInt(args[3]) : 4;
    String metricsProperty = System.getProperty("bench.workerMetrics", "");
    List<String> metricsUrls =
        metricsProperty.isBlank() ? List.of() : List.of(metricsProperty.split(","));
    for (String w : List.of(args[0], args[1])) {
      WorkerStats s = stats(w);
      System.out.printf(
          "# worker %s: KV cache %d tokens (%d blocks of %d)%n",
          s.getWorkerId(),
          (long) s.getTotalKvBlocks() * s.getKvBlockSize(),
          s.getTotalKvBlocks(),
          s.getKvBlockSize());
    }
    Result plain = run(false, args[0], args[1], requests, clients, 1, metricsUrls);
    Result affinity = run(true, args[0], args[1], requests, clients, 2, metricsUrls);
    long[] filterBytes = {
      stats(args[0]).getHeldPrefixes().getSerializedSize(),
      stats(args[1]).getHeldPrefixes().getSerializedSize()
    };
    System.out.printf(
        Locale.ROOT,
        "{\"routed_prefix_hit_rate\": %.3f, \"routed_prefix_hit_rate_plain\": %.3f,"
            + " \"ttft_mean_ms\": %.2f, \"ttft_mean_ms_plain\": %.2f, \"prompt_tokens_mean\": %d,"
            + " \"requests_per_mode\": %d, \"clients\": %d, \"system_prompts\": %d,"
            + " \"prefix_filter_bytes\": [%d, %d], \"errors\": %d%s}%n",
        affinity.hitRate(),
        plain.hitRate(),
        affinity.ttftMeanMs(),
        plain.ttftMeanMs(),
        affinity.promptTokensMean(),
        requests,
        clients,
        SYSTEM_PROMPTS,
        filterBytes[0],
        filterBytes[1],
        plain.errors() + affinity.errors(),
        metricsUrls.isEmpty()
            ? ""
            : String.format(
                Locale.ROOT,
                ", \"worker_prefix_hit_rate\": %.3f, \"worker_prefix_hit_rate_plain\": %.3f,"
                    + " \"worker_prefix_hit_rates\": %s, \"worker_prefix_hit_rates_plain\": %s",
                affinity.workerHitRate(),
                plain.workerHitRate(),
                affinity.workerHitRates(),
                plain.workerHitRates()));
  }

  /** A system prompt of about 4,000 chars: English-like words from a seeded vocabulary. */
  static String systemPrompt(Random r) {
    String[] words = {
      "ship", "harbour", "cargo", "tide", "captain", "route", "weather", "port", "crew", "anchor",
      "chart", "signal", "deck", "sail", "engine", "storm", "coast", "light", "wind", "north"
    };
    StringBuilder s = new StringBuilder("You are the assistant of a shipping company. ");
    while (s.length() < 4000) {
      s.append(words[r.nextInt(words.length)]).append(r.nextInt(10) == 0 ? ". " : " ");
    }
    return s.toString();
  }

  static GenerateRequest request(String system, int turn) {
    String messages =
        "[{\"role\":\"system\",\"content\":\""
            + system
            + "\"},{\"role\":\"user\",\"content\":\"Question "
            + turn
            + ": which port is nearest?\"}]";
    return GenerateRequest.newBuilder()
        .setModel(MODEL)
        .setChat(ChatInput.newBuilder().setMessagesJson(messages).setAddGenerationPrompt(true))
        .setSampling(SamplingParams.newBuilder().setMaxTokens(4))
        .build();
  }

  static Result run(
      boolean affinity,
      String w1,
      String w2,
      int requests,
      int clients,
      long seed,
      List<String> metricsUrls)
      throws Exception {
    TenantDirectory tenants = new TenantDirectory();
    tenants.onTenant(
        Fixtures.tenant("bench", "bench-keys", List.of("*"), 1, Priority.Normal, null));
    tenants.onSecret(keySecret("default", "bench-keys", "k", sha256Entry(KEY)));
    ModelCatalog catalog = new ModelCatalog();
    catalog.onModel(Fixtures.model("default", "bench-model", "30s"));
    WorkerRegistry registry = new WorkerRegistry();
    GrpcWorkerClient workers = new GrpcWorkerClient();
    StatsWatchers watchers = new StatsWatchers(workers, registry, 1000, 100);
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    GatewayMetrics metrics = new GatewayMetrics(meters, 100);
    Ticker ticker = Ticker.system();
    Schedulers schedulers =
        new Schedulers(
            registry,
            new WorkerSelector(WorkerSelector.DEFAULT_LOAD_FACTOR, affinity),
            m -> {},
            ticker,
            1000,
            100,
            32L << 20,
            Duration.ofSeconds(5),
            Duration.ofSeconds(60),
            Duration.ofSeconds(2),
            metrics.schedulerEvents());
    Path spoolDir = Files.createTempDirectory("routing-bench-spool");
    UsageLedger ledger =
        new UsageLedger(
            UsageSpool.open(spoolDir, 64 << 20),
            () -> {
              throw new IllegalStateException("the bench sends no usage to Kafka");
            },
            UsageLedger.TOPIC,
            Duration.ofSeconds(1),
            new ObjectMapper());
    GatewayPipeline pipeline =
        new GatewayPipeline(
            new ApiKeyAuthenticator(tenants),
            new Authorizer(catalog),
            new TenantLimiter(ticker, Duration.ofSeconds(1)),
            schedulers,
            registry,
            workers,
            ledger::record,
            metrics,
            ticker,
            Clock.systemUTC(),
            new GatewayPipeline.Settings("bench", 256, 3));
    CountDownLatch ready = new CountDownLatch(1);
    registry.onChange(
        model -> {
          if (registry.readyCount(MODEL) == 2) {
            ready.countDown();
          }
        });
    registry.upsert(new WorkerRegistry.Endpoint("worker-1", MODEL, w1));
    registry.upsert(new WorkerRegistry.Endpoint("worker-2", MODEL, w2));
    if (!ready.await(30, TimeUnit.SECONDS)) {
      throw new IllegalStateException("the workers never both reported ready");
    }
    Server server =
        Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
            .directExecutor()
            .addService(
                ServerInterceptors.intercept(
                    new InferenceGrpcService(pipeline), new AuthorizationInterceptor()))
            .build()
            .start();
    ManagedChannel channel =
        Grpc.newChannelBuilder("127.0.0.1:" + server.getPort(), InsecureChannelCredentials.create())
            .build();
    Metadata md = new Metadata();
    md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + KEY);
    InferenceGrpc.InferenceBlockingStub stub =
        InferenceGrpc.newBlockingStub(channel)
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));

    Random r = new Random(seed);
    List<String> systems = new ArrayList<>();
    for (int i = 0; i < SYSTEM_PROMPTS; i++) {
      systems.add(systemPrompt(r));
    }
    List<GenerateRequest> workload = new ArrayList<>();
    for (int i = 0; i < requests; i++) {
      workload.add(request(systems.get(r.nextInt(SYSTEM_PROMPTS)), i));
    }
    double[][] before = prefixCounters(metricsUrls);
    AtomicInteger next = new AtomicInteger();
    AtomicInteger errors = new AtomicInteger();
    AtomicLong ttftNanos = new AtomicLong();
    AtomicLong promptTokens = new AtomicLong();
    AtomicInteger done = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    List<Future<?>> futures = new ArrayList<>();
    for (int c = 0; c < clients; c++) {
      futures.add(
          pool.submit(
              () -> {
                for (int i = next.getAndIncrement(); i < requests; i = next.getAndIncrement()) {
                  long start = System.nanoTime();
                  long first = -1;
                  try {
                    Iterator<GenerateResponse> it =
                        stub.withDeadlineAfter(120, TimeUnit.SECONDS).generate(workload.get(i));
                    while (it.hasNext()) {
                      GenerateResponse m = it.next();
                      if (first < 0 && m.hasTokens()) {
                        first = System.nanoTime();
                      }
                      if (m.hasFinal()) {
                        promptTokens.addAndGet(m.getFinal().getUsage().getPromptTokens());
                      }
                    }
                    ttftNanos.addAndGet((first < 0 ? System.nanoTime() : first) - start);
                    done.incrementAndGet();
                  } catch (RuntimeException e) {
                    if (errors.incrementAndGet() <= 3) {
                      System.err.println("request " + i + " failed: " + e);
                    }
                  }
                }
              }));
    }
    for (Future<?> f : futures) {
      f.get();
    }
    pool.shutdown();
    double[][] after = prefixCounters(metricsUrls);
    double[] hitTokens = new double[metricsUrls.size()];
    double[] lookupTokens = new double[metricsUrls.size()];
    for (int w = 0; w < metricsUrls.size(); w++) {
      hitTokens[w] = after[w][0] - before[w][0];
      lookupTokens[w] = after[w][1] - before[w][1];
    }
    Result result =
        new Result(
            affinity ? "prefix-aware" : "plain",
            requests,
            routed(meters, "prefix"),
            routed(meters, "adapter"),
            routed(meters, "none"),
            done.get() == 0 ? 0 : ttftNanos.get() / 1e6 / done.get(),
            done.get() == 0 ? 0 : promptTokens.get() / done.get(),
            errors.get(),
            hitTokens,
            lookupTokens);
    System.out.printf(
        Locale.ROOT,
        "%s routing: %d requests, routed prefix %.0f, adapter %.0f, none %.0f: hit rate %.3f;"
            + " mean TTFT %.2f ms; mean prompt %d tokens; %d errors%s%n",
        result.mode(),
        result.requests(),
        result.prefix(),
        result.adapter(),
        result.none(),
        result.hitRate(),
        result.ttftMeanMs(),
        result.promptTokensMean(),
        result.errors(),
        metricsUrls.isEmpty()
            ? ""
            : String.format(
                Locale.ROOT,
                "; workers' prefix caches reused %.0f of %.0f prompt tokens (%.3f, each %s)",
                Arrays.stream(hitTokens).sum(),
                Arrays.stream(lookupTokens).sum(),
                result.workerHitRate(),
                result.workerHitRates()));
    channel.shutdownNow();
    server.shutdownNow();
    watchers.close();
    workers.close();
    ledger.close();
    try (var files = Files.walk(spoolDir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
    return result;
  }

  /**
   * Each worker's prefix-cache counters now, {hit tokens, lookup tokens}, from its Prometheus
   * endpoint: the workers outlive a mode, so a mode's figures are the difference across it.
   */
  static double[][] prefixCounters(List<String> metricsUrls) throws Exception {
    // HTTP/1.1: the default h2c upgrade breaks on the worker's large metrics page
    HttpClient http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10))
            .build();
    double[][] counters = new double[metricsUrls.size()][];
    for (int w = 0; w < metricsUrls.size(); w++) {
      HttpResponse<String> response =
          http.send(
              HttpRequest.newBuilder(URI.create(metricsUrls.get(w)))
                  .timeout(Duration.ofSeconds(30))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      if (response.statusCode() != 200) {
        throw new IllegalStateException(
            metricsUrls.get(w) + " answered HTTP " + response.statusCode());
      }
      counters[w] =
          new double[] {
            sample(response.body(), HIT_TOKENS), sample(response.body(), LOOKUP_TOKENS)
          };
    }
    return counters;
  }

  /** The sum of a metric's samples in a Prometheus text exposition; absent is an error. */
  static double sample(String exposition, String name) {
    double sum = 0;
    boolean found = false;
    for (String line : exposition.split("\n")) {
      if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
        sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        found = true;
      }
    }
    if (!found) {
      throw new IllegalStateException("no " + name + " in the worker's metrics");
    }
    return sum;
  }

  private static double routed(SimpleMeterRegistry meters, String match) {
    var c =
        meters
            .find("flotilla.gateway.routed.requests")
            .tags("model", MODEL, "match", match)
            .counter();
    return c == null ? 0 : c.count();
  }

  /** A worker's Stats report now; retried for a minute while its gRPC port comes up. */
  private static WorkerStats stats(String address) throws InterruptedException {
    ManagedChannel ch =
        Grpc.newChannelBuilder(address, InsecureChannelCredentials.create()).build();
    try {
      for (int attempt = 1; ; attempt++) {
        try {
          Iterator<WorkerStats> it =
              WorkerGrpc.newBlockingStub(ch)
                  .withDeadlineAfter(10, TimeUnit.SECONDS)
                  .stats(StatsRequest.getDefaultInstance());
          return it.next();
        } catch (io.grpc.StatusRuntimeException e) {
          if (attempt == 120) {
            throw e;
          }
          Thread.sleep(500);
        }
      }
    } finally {
      ch.shutdownNow();
    }
  }
}
