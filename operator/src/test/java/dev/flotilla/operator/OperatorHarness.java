package dev.flotilla.operator;

import dev.flotilla.operator.autoscaler.AutoscalerGrpcService;
import dev.flotilla.operator.autoscaler.DemandStore;
import dev.flotilla.operator.certs.CurrentCa;
import dev.flotilla.operator.config.OperatorSettings;
import dev.flotilla.operator.leader.Leadership;
import dev.flotilla.operator.lora.LoraAdapterReconciler;
import dev.flotilla.operator.md.ModelDeploymentReconciler;
import dev.flotilla.operator.md.WorkerAccessReconciler;
import dev.flotilla.operator.placement.PlacementBook;
import dev.flotilla.operator.pool.GpuNodePoolReconciler;
import dev.flotilla.operator.tenant.TenantReconciler;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import io.javaoperatorsdk.operator.api.monitoring.Metrics;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.stream.Stream;
import org.awaitility.Awaitility;

/**
 * The operator as plain Java Operator SDK controllers against an in-memory API server: what the
 * Quarkus app registers, without Quarkus, so a test can restart it, run two for leader election and
 * move its clock. Each instance is one "process" (its own demand store and placement book).
 */
public final class OperatorHarness implements AutoCloseable {
  private final Operator operator;
  private final DemandStore demand = new DemandStore();
  private final AutoscalerGrpcService autoscaler;
  private final Leadership leadership;
  private final CurrentCa ca = new CurrentCa();

  public OperatorHarness(
      KubernetesClient client,
      OperatorSettings settings,
      Clock clock,
      LeaderElectionConfiguration leaderElection) {
    this(client, settings, clock, leaderElection, Metrics.NOOP);
  }

  /**
   * @param metrics told of every reconcile, e.g. to count them in a benchmark
   */
  public OperatorHarness(
      KubernetesClient client,
      OperatorSettings settings,
      Clock clock,
      LeaderElectionConfiguration leaderElection,
      Metrics metrics) {
    leadership = leaderElection == null ? Leadership.alone() : Leadership.elected();
    LeaderElectionConfiguration election =
        leaderElection == null ? null : withCallbacks(leaderElection);
    autoscaler = new AutoscalerGrpcService(demand, clock, leadership);
    operator =
        new Operator(
            o -> {
              o.withKubernetesClient(client)
                  .withMetrics(metrics)
                  .withUseSSAToPatchPrimaryResource(false)
                  .withSSABasedCreateUpdateMatchForDependentResources(false)
                  .withCloseClientOnStop(false)
                  .withConcurrentReconciliationThreads(8);
              if (election != null) {
                o.withLeaderElectionConfiguration(election);
              }
            });
    operator.register(new GpuNodePoolReconciler(clock));
    operator.register(new ModelDeploymentReconciler(settings, demand, new PlacementBook(), clock));
    operator.register(new WorkerAccessReconciler(settings, ca, clock));
    operator.register(new LoraAdapterReconciler(settings, clock));
    operator.register(new TenantReconciler(settings, clock));
  }

  public OperatorHarness start() {
    operator.start();
    return this;
  }

  public AutoscalerGrpcService autoscaler() {
    return autoscaler;
  }

  public Leadership leadership() {
    return leadership;
  }

  /** The given election settings with this instance's {@link Leadership} told of the outcome. */
  private LeaderElectionConfiguration withCallbacks(LeaderElectionConfiguration c) {
    return new LeaderElectionConfiguration(
        c.getLeaseName(),
        c.getLeaseNamespace().orElse(null),
        c.getLeaseDuration(),
        c.getRenewDeadline(),
        c.getRetryPeriod(),
        c.getIdentity().orElse(null),
        leadership.callbacks(() -> {}),
        c.isExitOnStopLeading());
  }

  /** The CA worker certificates are issued from; a test sets it, as the CA reconciler would. */
  public CurrentCa ca() {
    return ca;
  }

  public DemandStore demand() {
    return demand;
  }

  @Override
  public void close() {
    operator.stop();
  }

  /** Installs the checked-in CRDs, so the server knows the status subresources and scopes. */
  public static void installCrds(KubernetesClient client) {
    Path crds = Path.of("..", "crds");
    try (Stream<Path> files = Files.list(crds)) {
      for (Path file :
          (Iterable<Path>) files.filter(f -> f.toString().endsWith(".yml")).sorted()::iterator) {
        try (InputStream in = Files.newInputStream(file)) {
          CustomResourceDefinition crd =
              client.getKubernetesSerialization().unmarshal(in, CustomResourceDefinition.class);
          client
              .apiextensions()
              .v1()
              .customResourceDefinitions()
              .resource(crd)
              .createOr(r -> r.update());
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Plays the Deployment controller: all wanted pods exist and {@code ready} of them are ready.
   * Retries while the Deployment is not there yet or the operator's own write wins the race for its
   * resource version, as a controller's next sync would.
   */
  public static void markReady(
      KubernetesClient client, String namespace, String deployment, int ready) {
    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .ignoreExceptions()
        .until(
            () -> {
              Deployment d =
                  client.apps().deployments().inNamespace(namespace).withName(deployment).get();
              int replicas = d.getSpec().getReplicas() == null ? 0 : d.getSpec().getReplicas();
              d.setStatus(
                  new io.fabric8.kubernetes.api.model.apps.DeploymentStatusBuilder()
                      .withReplicas(replicas)
                      .withReadyReplicas(Math.min(ready, replicas))
                      .withAvailableReplicas(Math.min(ready, replicas))
                      .withObservedGeneration(d.getMetadata().getGeneration())
                      .build());
              client.apps().deployments().inNamespace(namespace).resource(d).updateStatus();
              return true;
            });
  }
}
