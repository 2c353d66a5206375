package dev.flotilla.gateway.app;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.gateway.auth.ApiKeyAuthenticator;
import dev.flotilla.gateway.auth.TenantDirectory;
import dev.flotilla.gateway.authz.Authorizer;
import dev.flotilla.gateway.catalog.ModelCatalog;
import dev.flotilla.gateway.limit.GatewayReplicas;
import dev.flotilla.gateway.limit.ReplicaShare;
import dev.flotilla.gateway.limit.TenantLimiter;
import dev.flotilla.gateway.metrics.GatewayMetrics;
import dev.flotilla.gateway.route.WorkerRegistry;
import dev.flotilla.gateway.route.WorkerSelector;
import dev.flotilla.gateway.schedule.AutoscalerNotifier;
import dev.flotilla.gateway.schedule.DemandReporter;
import dev.flotilla.gateway.schedule.ModelScheduler;
import dev.flotilla.gateway.schedule.Schedulers;
import dev.flotilla.gateway.service.GatewayPipeline;
import dev.flotilla.gateway.time.Ticker;
import dev.flotilla.gateway.usage.KafkaSecurity;
import dev.flotilla.gateway.usage.OrphanSpools;
import dev.flotilla.gateway.usage.SpoolDirectory;
import dev.flotilla.gateway.usage.UsageLedger;
import dev.flotilla.gateway.usage.UsageProducerConfig;
import dev.flotilla.gateway.usage.UsageSpool;
import dev.flotilla.gateway.worker.GrpcWorkerClient;
import dev.flotilla.gateway.worker.StatsWatchers;
import dev.flotilla.gateway.worker.WorkerChannels;
import dev.flotilla.gateway.worker.WorkerClient;
import dev.flotilla.mtls.Identities;
import dev.flotilla.mtls.MutualTls;
import dev.flotilla.mtls.PeerPolicy;
import dev.flotilla.mtls.ReloadingCredentials;
import dev.flotilla.mtls.TlsFiles;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.jboss.logging.Logger;

/** Builds the pipeline from plain classes and runs its background work. */
@ApplicationScoped
public class GatewayBeans {
  private static final Logger LOG = Logger.getLogger(GatewayBeans.class);

  private final GatewayConfig config;
  private final String gatewayId;
  private final TenantDirectory tenants = new TenantDirectory();
  private final ModelCatalog catalog = new ModelCatalog();
  private final WorkerRegistry registry = new WorkerRegistry();
  private final WorkerClient workerClient;

  /** The ready gateway replicas that share each tenant's limits; null when not counted. */
  private final GatewayReplicas replicas;

  /** The gateway's certificate and trust bundle; null without mutual TLS. */
  private final ReloadingCredentials credentials;

  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "flotilla-gateway-tick");
            t.setDaemon(true);
            return t;
          });
  private UsageLedger ledger;
  private SpoolDirectory.Claim spoolClaim;
  private OrphanSpools orphans;
  private Schedulers schedulers;
  private DemandReporter reporter;
  private ManagedChannel autoscalerChannel;
  private StatsWatchers statsWatchers;
  private GatewayMetrics metrics;

  public GatewayBeans(GatewayConfig config) {
    this.config = config;
    this.gatewayId = config.id().orElseGet(GatewayBeans::hostName);
    this.replicas =
        config.replicas().selector().isPresent() && config.informers()
            ? new GatewayReplicas(gatewayId)
            : null;
    if (config.mtls().enabled()) {
      this.credentials =
          new ReloadingCredentials(
              new TlsFiles(Path.of(config.mtls().dir())), config.mtls().reloadInterval());
      this.workerClient =
          new GrpcWorkerClient(WorkerChannels.mutualTls(credentials, this::expectedWorker));
    } else {
      LOG.warn(
          "flotilla.gateway.mtls.enabled=false: workers and the operator are called in plaintext");
      this.credentials = null;
      this.workerClient = new GrpcWorkerClient();
    }
  }

  /** The worker at {@code address} must prove the model the registry placed there. */
  private PeerPolicy expectedWorker(String address) {
    return registry
        .modelAt(address)
        .map(model -> PeerPolicy.exactly(Identities.workerOf(model)))
        .orElseGet(
            () ->
                new PeerPolicy("a worker of the one model registered at " + address, id -> false));
  }

  private ManagedChannel autoscalerChannel(String address) {
    return credentials == null
        ? Grpc.newChannelBuilder(address, InsecureChannelCredentials.create()).build()
        : Grpc.newChannelBuilder(
                address,
                MutualTls.channelCredentials(credentials, PeerPolicy.exactly(Identities.OPERATOR)))
            .build();
  }

  private static String hostName() {
    String env = System.getenv("HOSTNAME");
    if (env != null && !env.isBlank()) {
      return env;
    }
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return "gateway";
    }
  }

  @Produces
  @Singleton
  TenantDirectory tenantDirectory() {
    return tenants;
  }

  @Produces
  @Singleton
  ModelCatalog modelCatalog() {
    return catalog;
  }

  @Produces
  @Singleton
  WorkerRegistry workerRegistry() {
    return registry;
  }

  @Produces
  @Singleton
  synchronized UsageLedger usageLedger() {
    if (ledger == null) {
      try {
        spoolClaim = new SpoolDirectory(Path.of(config.usage().spoolDir())).claim(gatewayId);
        LOG.infof("usage spool: %s is this gateway's", spoolClaim.dir());
        ledger =
            ledgerOf(
                gatewayId,
                UsageSpool.open(
                    spoolClaim.dir(),
                    config.usage().segmentBytes(),
                    config.usage().spoolMaxBytes()));
      } catch (IOException e) {
        throw new UncheckedIOException("cannot open the usage spool", e);
      }
    }
    return ledger;
  }

  /** The usage producer's TLS and SASL settings. */
  private KafkaSecurity kafkaSecurity() {
    GatewayConfig.Usage.KafkaSecurity kafka = config.usage().kafkaSecurity();
    return new KafkaSecurity(
        kafka.protocol(), kafka.saslMechanism(), kafka.saslJaasConfig(), kafka.truststore());
  }

  /** A ledger that sends {@code spool} to the configured topic; started by the caller. */
  private UsageLedger ledgerOf(String clientId, UsageSpool spool) {
    return new UsageLedger(
        spool,
        () ->
            new KafkaProducer<>(
                UsageProducerConfig.of(
                    config.usage().kafkaBootstrapServers().orElseThrow(),
                    clientId,
                    config.usage().deliveryTimeout(),
                    kafkaSecurity())),
        config.usage().topic(),
        config.usage().maxBackoff(),
        new ObjectMapper());
  }

  @Produces
  @Singleton
  GatewayPipeline pipeline(MeterRegistry meters, UsageLedger usage) {
    metrics = new GatewayMetrics(meters, config.maxTenantLabels());
    AutoscalerNotifier notifier =
        modelKey -> {
          if (reporter != null) {
            reporter.heldWhileCold(modelKey);
          }
        };
    schedulers =
        new Schedulers(
            registry,
            new WorkerSelector(config.loadFactor(), config.prefixAffinity()),
            notifier,
            Ticker.system(),
            config.hold().maxPerModel(),
            config.hold().maxPerTenant(),
            config.hold().maxBytesPerTenant(),
            config.hold().retryAfter(),
            config.queue().timeout(),
            config.queue().retryAfter(),
            metrics.schedulerEvents());
    metrics.gauges(
        () -> schedulers.all().stream().mapToInt(s -> s.demand().held()).sum(), usage::pending);
    metrics.spoolSize(usage::spoolBytes, usage::spoolLimitBytes);
    return new GatewayPipeline(
        new ApiKeyAuthenticator(tenants),
        new Authorizer(catalog),
        new TenantLimiter(Ticker.system(), config.concurrencyRetryAfter(), replicaShare()),
        schedulers,
        registry,
        workerClient,
        usage::record,
        metrics,
        Ticker.system(),
        Clock.systemUTC(),
        new GatewayPipeline.Settings(gatewayId, config.defaultMaxTokens(), config.maxAttempts()));
  }

  /** This replica's share of each tenant's limits, also served as a gauge. */
  private Supplier<ReplicaShare> replicaShare() {
    Supplier<ReplicaShare> share = replicas != null ? replicas : () -> ReplicaShare.WHOLE;
    metrics.replicas(() -> share.get().replicas());
    return share;
  }

  void start(
      @Observes StartupEvent event,
      GatewayPipeline pipeline,
      UsageLedger usage,
      jakarta.enterprise.inject.Instance<KubernetesInformers> informers) {
    if (config.usage().kafkaBootstrapServers().isPresent()) {
      usage.start();
      orphans =
          new OrphanSpools(
                  new SpoolDirectory(Path.of(config.usage().spoolDir())),
                  spoolClaim.dir(),
                  gatewayId,
                  config.usage().segmentBytes(),
                  spool -> ledgerOf(gatewayId + "-orphans", spool),
                  config.usage().drainTimeout())
              .start(config.usage().orphanInterval());
    } else {
      LOG.warn(
          "flotilla.gateway.usage.kafka-bootstrap-servers is not set: usage events are"
              + " spooled locally and sent once it is");
    }
    statsWatchers =
        new StatsWatchers(workerClient, registry, config.workers().statsIntervalMs(), 2_000);
    long tick = config.hold().progressInterval().toMillis();
    timer.scheduleAtFixedRate(
        () -> {
          try {
            schedulers.tick();
          } catch (RuntimeException e) {
            LOG.error("scheduler tick failed", e);
          }
        },
        tick,
        tick,
        TimeUnit.MILLISECONDS);
    config
        .autoscaler()
        .address()
        .ifPresent(
            address -> {
              autoscalerChannel = autoscalerChannel(address);
              reporter =
                  new DemandReporter(
                          autoscalerChannel,
                          gatewayId,
                          () -> schedulers.all().stream().map(s -> (ModelScheduler) s).toList(),
                          config.autoscaler().reportInterval(),
                          Clock.systemUTC())
                      .start();
            });
    if (config.informers()) {
      informers
          .get()
          .start(
              tenants,
              catalog,
              registry,
              config.workers(),
              config.tenantSecretNamespaces().orElse(List.of()));
    }
    if (replicas != null) {
      informers
          .get()
          .startReplicas(
              replicas, config.replicas().namespace(), config.replicas().selector().orElseThrow());
    } else {
      LOG.warn(
          "flotilla.gateway.replicas.selector is not set or informers are off: this replica"
              + " enforces every tenant's whole limits, so N replicas admit N times them");
    }
  }

  void stop(@Observes ShutdownEvent event) {
    timer.shutdownNow();
    if (reporter != null) {
      reporter.close();
    }
    if (autoscalerChannel != null) {
      autoscalerChannel.shutdownNow();
    }
    if (statsWatchers != null) {
      statsWatchers.close();
    }
    workerClient.close();
    if (orphans != null) {
      orphans.close();
    }
    if (ledger != null) {
      try {
        ledger.close(config.usage().drainTimeout());
        spoolClaim.close();
      } catch (IOException e) {
        LOG.warn("closing the usage ledger", e);
      }
    }
  }
}
