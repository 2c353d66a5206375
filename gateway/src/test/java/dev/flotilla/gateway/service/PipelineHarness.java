package dev.flotilla.gateway.service;

import static dev.flotilla.gateway.Fixtures.keySecret;
import static dev.flotilla.gateway.Fixtures.sha256Entry;
import static org.awaitility.Awaitility.await;

import dev.flotilla.api.crd.Priority;
import dev.flotilla.api.crd.TenantLimits;
import dev.flotilla.api.crd.Visibility;
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
import dev.flotilla.gateway.time.Ticker;
import dev.flotilla.gateway.usage.UsageEvent;
import dev.flotilla.gateway.worker.GrpcWorkerClient;
import dev.flotilla.gateway.worker.StatsWatchers;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A whole pipeline from plain classes, for transport tests: two tenants (acme: model {@value
 * #MODEL}, 1000 req/s; globex: every model, 0.5 req/s, burst 1), three adapters (acme's and
 * globex's private ones, a public one), fake workers on loopback, a hand-moved clock, usage events
 * (recorded on a thread of their own, as the ledger does) and metrics kept in memory. Per-tenant
 * hold cap 2 requests and {@value #MAX_HELD_BYTES} bytes, per model 10; queue timeout 20s.
 */
public final class PipelineHarness implements AutoCloseable {
  public static final String MODEL = "default/tiny-llama";
  public static final String ACME = "flk_acme_key";
  public static final String GLOBEX = "flk_globex_key";
  public static final Duration QUEUE_TIMEOUT = Duration.ofSeconds(20);
  public static final long MAX_HELD_BYTES = 64 * 1024;

  public final AtomicLong clockOffset = new AtomicLong();
  public final List<UsageEvent> usage = new CopyOnWriteArrayList<>();
  public final List<String> notified = new CopyOnWriteArrayList<>();
  public final List<FakeWorker> workers = new ArrayList<>();
  public final TenantDirectory tenants = new TenantDirectory();
  public final ModelCatalog catalog = new ModelCatalog();

  /** On the harness's clock, which also ages what the gateway sent workers. */
  public final WorkerRegistry registry =
      new WorkerRegistry(() -> System.nanoTime() + clockOffset.get());

  public final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  public final Ticker ticker = () -> System.nanoTime() + clockOffset.get();
  public final GrpcWorkerClient workerClient = new GrpcWorkerClient();
  public final StatsWatchers watchers = new StatsWatchers(workerClient, registry, 1000, 100);
  public final Schedulers schedulers;

  /** Answers callers from its own thread, as the usage ledger's writer does. */
  private final ExecutorService recorder =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "harness-usage-recorder");
            t.setDaemon(true);
            return t;
          });

  public final GatewayPipeline pipeline;

  public PipelineHarness() {
    TenantLimits acmeLimits = new TenantLimits();
    acmeLimits.setRequestsPerSecond(1000.0);
    tenants.onTenant(
        Fixtures.tenant("acme", "acme-keys", List.of(MODEL), 1, Priority.Normal, acmeLimits));
    TenantLimits globexLimits = new TenantLimits();
    globexLimits.setRequestsPerSecond(0.5);
    globexLimits.setBurst(1);
    tenants.onTenant(
        Fixtures.tenant("globex", "globex-keys", List.of("*"), 1, Priority.Low, globexLimits));
    tenants.onSecret(keySecret("default", "acme-keys", "k", sha256Entry(ACME)));
    tenants.onSecret(keySecret("default", "globex-keys", "k", sha256Entry(GLOBEX)));
    catalog.onModel(Fixtures.model("default", "tiny-llama", "30s"));
    catalog.onAdapter(
        Fixtures.adapter("default", "acme-support", "tiny-llama", "acme", Visibility.Private));
    catalog.onAdapter(
        Fixtures.adapter("default", "globex-legal", "tiny-llama", "globex", Visibility.Private));
    catalog.onAdapter(Fixtures.adapter("default", "sql", "tiny-llama", null, Visibility.Public));
    GatewayMetrics metrics = new GatewayMetrics(meters, 10);
    schedulers =
        new Schedulers(
            registry,
            new WorkerSelector(1.25),
            notified::add,
            ticker,
            10,
            2,
            MAX_HELD_BYTES,
            Duration.ofSeconds(5),
            QUEUE_TIMEOUT,
            Duration.ofSeconds(2),
            metrics.schedulerEvents());
    pipeline =
        new GatewayPipeline(
            new ApiKeyAuthenticator(tenants),
            new Authorizer(catalog),
            new TenantLimiter(ticker, Duration.ofSeconds(1)),
            schedulers,
            registry,
            workerClient,
            (event, whenRecorded) ->
                recorder.execute(
                    () -> {
                      usage.add(event);
                      whenRecorded.accept(null);
                    }),
            metrics,
            ticker,
            Clock.systemUTC(),
            new GatewayPipeline.Settings("gw-test", 16, 3));
  }

  /** Starts a fake worker of {@link #MODEL} and waits until the registry sees it ready. */
  public FakeWorker worker(String id) throws Exception {
    FakeWorker w = new FakeWorker(id);
    workers.add(w);
    registry.upsert(new WorkerRegistry.Endpoint(id, MODEL, w.address()));
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> registry.views(MODEL).stream().anyMatch(v -> v.id().equals(id) && v.ready()));
    return w;
  }

  /** A counter's value, 0 when it was never incremented. */
  public double count(String name, String... tags) {
    var c = meters.find(name).tags(tags).counter();
    return c == null ? 0 : c.count();
  }

  @Override
  public void close() throws Exception {
    watchers.close();
    workerClient.close();
    for (FakeWorker w : workers) {
      w.close();
    }
    recorder.shutdown();
  }
}
