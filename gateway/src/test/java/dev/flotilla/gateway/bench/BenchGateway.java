package dev.flotilla.gateway.bench;

import static dev.flotilla.gateway.Fixtures.keySecret;
import static dev.flotilla.gateway.Fixtures.sha256Entry;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.flotilla.api.crd.Priority;
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
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.micrometer.prometheus.PrometheusConfig;
import io.micrometer.prometheus.PrometheusMeterRegistry;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The gateway pipeline as its own process for the benchmark, so its CPU time can be read apart from
 * the clients' and the worker's: auth, authorisation, limits (none set), the scheduler, routing,
 * metrics (a Prometheus registry, as in production), the usage ledger's writer and the gRPC service
 * with calls on the transport thread, as the Quarkus gateway runs it. The ledger's spool is on
 * tmpfs (/dev/shm where there is one) and it sends nothing to Kafka: the disk's fsync latency is
 * not pipeline cost and is left out, the thread that waits for it is not.
 *
 * <p>Usage: {@code BenchGateway <worker host:port>}; prints {@code ports <gRPC> <metrics HTTP>},
 * runs until stdin closes.
 */
public final class BenchGateway {
  static final String MODEL = "default/bench-model";
  static final String KEY = "flk_bench_key";

  private BenchGateway() {}

  public static void main(String[] args) throws Exception {
    BenchLogs.productionLevels();
    TenantDirectory tenants = new TenantDirectory();
    tenants.onTenant(
        Fixtures.tenant("bench", "bench-keys", List.of("*"), 1, Priority.Normal, null));
    tenants.onSecret(keySecret("default", "bench-keys", "k", sha256Entry(KEY)));
    ModelCatalog catalog = new ModelCatalog();
    catalog.onModel(Fixtures.model("default", "bench-model", "30s"));
    WorkerRegistry registry = new WorkerRegistry();
    GrpcWorkerClient workers = new GrpcWorkerClient();
    StatsWatchers watchers = new StatsWatchers(workers, registry, 1000, 100);
    PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    GatewayMetrics metrics = new GatewayMetrics(prometheus, 100);
    Ticker ticker = Ticker.system();
    Schedulers schedulers =
        new Schedulers(
            registry,
            new WorkerSelector(1.25),
            m -> {},
            ticker,
            1000,
            100,
            32L << 20,
            Duration.ofSeconds(5),
            Duration.ofSeconds(30),
            Duration.ofSeconds(2),
            metrics.schedulerEvents());
    Path spoolDir =
        Files.createTempDirectory(
            Files.isDirectory(Path.of("/dev/shm"))
                ? Path.of("/dev/shm")
                : Path.of(System.getProperty("java.io.tmpdir")),
            "bench-spool");
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
          if (registry.readyCount(MODEL) > 0) {
            ready.countDown();
          }
        });
    registry.upsert(new WorkerRegistry.Endpoint("bench-worker", MODEL, args[0]));
    if (!ready.await(30, TimeUnit.SECONDS)) {
      throw new IllegalStateException("the worker at " + args[0] + " never reported ready");
    }
    Server server =
        Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
            .directExecutor()
            .addService(
                ServerInterceptors.intercept(
                    new InferenceGrpcService(pipeline), new AuthorizationInterceptor()))
            .build()
            .start();
    // The Prometheus page, as a gateway serves it, for the benchmark's breakdown of TTFT.
    HttpServer page =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    page.createContext(
        "/metrics",
        exchange -> {
          byte[] body = prometheus.scrape().getBytes(StandardCharsets.UTF_8);
          exchange.sendResponseHeaders(200, body.length);
          try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
          }
        });
    page.start();
    System.out.println("ports " + server.getPort() + " " + page.getAddress().getPort());
    System.out.flush();
    while (System.in.read() >= 0) {
      // runs until the benchmark closes our stdin
    }
    page.stop(0);
    server.shutdownNow();
    watchers.close();
    workers.close();
    ledger.close();
    try (Stream<Path> files = Files.walk(spoolDir)) {
      files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
  }
}
