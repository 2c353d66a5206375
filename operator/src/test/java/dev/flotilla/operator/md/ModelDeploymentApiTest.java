package dev.flotilla.operator.md;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.flotilla.api.control.v1.DemandReport;
import dev.flotilla.api.control.v1.ModelDemand;
import dev.flotilla.api.control.v1.ScaleDecision;
import dev.flotilla.api.crd.ConditionTypes;
import dev.flotilla.api.crd.GpuNodePool;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.operator.Fixtures;
import dev.flotilla.operator.MutableClock;
import dev.flotilla.operator.OperatorHarness;
import dev.flotilla.operator.autoscaler.DemandSnapshot;
import dev.flotilla.operator.config.OperatorSettings;
import dev.flotilla.operator.config.SettingsBuilder;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.grpc.stub.StreamObserver;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The ModelDeployment and GpuNodePool reconcilers on an in-memory API server; the test plays the
 * Deployment controller.
 */
@EnableKubernetesMockClient(crud = true)
class ModelDeploymentApiTest {
  static final String NS = Fixtures.NAMESPACE;
  static final Duration WAIT = Duration.ofSeconds(20);

  /** Well inside the pools' 60 s periodic pass: what an event, not that pass, must achieve. */
  static final Duration PROMPTLY = Duration.ofSeconds(10);

  KubernetesClient client;
  MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
  OperatorSettings settings =
      SettingsBuilder.defaults()
          .autoscalerTick(Duration.ofMillis(100))
          .recheckInterval(Duration.ofSeconds(1))
          .build();
  OperatorHarness operator;

  @BeforeEach
  void start() {
    OperatorHarness.installCrds(client);
    client
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
        .create();
    operator = new OperatorHarness(client, settings, clock, null).start();
  }

  @AfterEach
  void stop() {
    if (operator != null) {
      operator.close();
    }
  }

  ModelDeployment md(String name) {
    return client.resources(ModelDeployment.class).inNamespace(NS).withName(name).get();
  }

  Deployment worker(String name) {
    return client.apps().deployments().inNamespace(NS).withName(name + "-worker").get();
  }

  /** The worker Deployment's replicas; null (an assertion to retry) while it does not exist. */
  Integer replicas(String name) {
    Deployment d = worker(name);
    return d == null ? null : d.getSpec().getReplicas();
  }

  static Condition condition(ModelDeployment md, String type) {
    return md.getStatus() == null
        ? null
        : md.getStatus().getConditions().stream()
            .filter(c -> type.equals(c.getType()))
            .findFirst()
            .orElse(null);
  }

  static void assertCondition(ModelDeployment md, String type, String status, String reason) {
    Condition c = condition(md, type);
    assertThat(c).as(type + " of " + md.getMetadata().getName()).isNotNull();
    assertThat(c.getStatus()).as(type + ": " + c.getMessage()).isEqualTo(status);
    assertThat(c.getReason()).isEqualTo(reason);
  }

  List<String> eventReasons(String about) {
    return client.v1().events().inNamespace(NS).list().getItems().stream()
        .filter(e -> about.equals(e.getInvolvedObject().getName()))
        .map(Event::getReason)
        .toList();
  }

  void create(HasMetadata resource) {
    client.resource(resource).create();
  }

  @Test
  void createdDeploymentIsPlacedRunsWorkersAndBecomesReady() {
    create(Fixtures.pool("l4-pool", "NVIDIA-L4", "24Gi", 1, 4, 0.7));
    ModelDeployment md = Fixtures.model("llama", 1, 2);
    md.getSpec().getScaling().setMinReplicas(1);
    create(md);

    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              assertCondition(md("llama"), ConditionTypes.PLACED, ConditionTypes.TRUE, "Placed");
              assertThat(worker("llama")).isNotNull();
              assertThat(replicas("llama")).isEqualTo(1);
            });
    assertCondition(md("llama"), ConditionTypes.READY, ConditionTypes.FALSE, "WaitingForReplicas");
    assertThat(
            client
                .services()
                .inNamespace(NS)
                .withName("llama-workers")
                .get()
                .getSpec()
                .getClusterIP())
        .isEqualTo("None");
    assertThat(worker("llama").getSpec().getTemplate().getSpec().getNodeSelector())
        .containsEntry("flotilla.dev/pool", "l4-pool");

    OperatorHarness.markReady(client, NS, "llama-worker", 1);

    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              ModelDeployment current = md("llama");
              assertCondition(current, ConditionTypes.READY, ConditionTypes.TRUE, "ReplicasReady");
              assertCondition(
                  current, ConditionTypes.SCALED_TO_ZERO, ConditionTypes.FALSE, "Running");
              assertThat(current.getStatus().getReadyReplicas()).isEqualTo(1);
              assertThat(current.getStatus().getDesiredReplicas()).isEqualTo(1);
              assertThat(current.getStatus().getPool()).isEqualTo("l4-pool");
              assertThat(current.getStatus().getEndpoint())
                  .isEqualTo("llama-workers.models.svc:9100");
              assertThat(current.getStatus().getObservedGeneration())
                  .isEqualTo(current.getMetadata().getGeneration());
              GpuNodePool pool = client.resources(GpuNodePool.class).withName("l4-pool").get();
              assertThat(pool.getStatus().getAllocatedGpus()).isEqualTo(2);
              assertThat(pool.getStatus().getPlacements())
                  .singleElement()
                  .satisfies(p -> assertThat(p.getName()).isEqualTo("llama"));
            });
    assertThat(eventReasons("llama")).contains("Placed", "ScaledFromZero");
  }

  @Test
  void exhaustedPoolLeavesTheSecondDeploymentUnplacedUntilTheFirstIsDeleted() {
    create(Fixtures.pool("small", "NVIDIA-L4", "24Gi", 1, 3, 0.7));
    create(Fixtures.model("first", 1, 2));
    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () ->
                assertCondition(md("first"), ConditionTypes.PLACED, ConditionTypes.TRUE, "Placed"));
    create(Fixtures.model("second", 1, 2));

    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              assertCondition(
                  md("second"),
                  ConditionTypes.PLACED,
                  ConditionTypes.FALSE,
                  "InsufficientCapacity");
              assertThat(condition(md("second"), ConditionTypes.PLACED).getMessage())
                  .isEqualTo("pool small has 1 of 3 GPUs free, needs 2 (2 replicas × 1 GPUs)");
              assertThat(eventReasons("second")).contains("PlacementFailed");
            });
    assertThat(worker("second")).as("no half-made objects").isNull();
    assertThat(client.services().inNamespace(NS).withName("second-workers").get()).isNull();

    client.resources(ModelDeployment.class).inNamespace(NS).withName("first").delete();

    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              assertCondition(md("second"), ConditionTypes.PLACED, ConditionTypes.TRUE, "Placed");
              assertThat(worker("second")).isNotNull();
              assertThat(
                      client
                          .resources(GpuNodePool.class)
                          .withName("small")
                          .get()
                          .getStatus()
                          .getPlacements())
                  .extracting(p -> p.getName())
                  .containsExactly("second");
            });
  }

  @Test
  void scalesFromZeroOnAHeldRequestAndBackToZeroWhenIdle() {
    create(Fixtures.pool("l4-pool", "NVIDIA-L4", "24Gi", 1, 4, 0.7));
    ModelDeployment md = Fixtures.model("cold", 1, 3);
    md.getSpec().getScaling().setScaleToZeroAfter("5m");
    create(md);
    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              assertCondition(
                  md("cold"), ConditionTypes.SCALED_TO_ZERO, ConditionTypes.TRUE, "NoReplicas");
              assertCondition(
                  md("cold"), ConditionTypes.READY, ConditionTypes.TRUE, "ScaledToZero");
              assertThat(replicas("cold")).isZero();
            });

    List<ScaleDecision> decisions = new CopyOnWriteArrayList<>();
    StreamObserver<DemandReport> stream = operator.autoscaler().reportDemand(collect(decisions));
    stream.onNext(report("gw-1", 0, 1));

    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              assertThat(replicas("cold")).isEqualTo(1);
              assertThat(decisions)
                  .anySatisfy(d -> assertThat(d.getDesiredReplicas()).isEqualTo(1));
            });
    OperatorHarness.markReady(client, NS, "cold-worker", 1);
    stream.onNext(report("gw-1", 2, 0));
    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () ->
                assertCondition(
                    md("cold"), ConditionTypes.READY, ConditionTypes.TRUE, "ReplicasReady"));

    // Quiet for longer than scaleToZeroAfter: the gateway's last report expires, the idle clock
    // runs out.
    stream.onNext(report("gw-1", 0, 0));
    clock.advance(Duration.ofMinutes(6));
    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(() -> assertThat(replicas("cold")).isZero());
    OperatorHarness.markReady(client, NS, "cold-worker", 0);
    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              assertCondition(
                  md("cold"), ConditionTypes.SCALED_TO_ZERO, ConditionTypes.TRUE, "NoReplicas");
              assertThat(eventReasons("cold")).contains("ScaledFromZero", "ScaledToZero");
            });
    stream.onCompleted();
  }

  @Test
  void withScaleToZeroOffForTheClusterAnIdleModelKeepsOneWorker() {
    operator.close();
    operator =
        new OperatorHarness(
                client,
                SettingsBuilder.defaults()
                    .autoscalerTick(Duration.ofMillis(100))
                    .scaleToZeroEnabled(false)
                    .build(),
                clock,
                null)
            .start();
    create(Fixtures.pool("l4-pool", "NVIDIA-L4", "24Gi", 1, 4, 0.7));
    create(Fixtures.model("warm", 1, 2)); // minReplicas 0, no demand ever

    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              assertThat(replicas("warm")).isEqualTo(1);
              assertCondition(
                  md("warm"),
                  ConditionTypes.SCALED_TO_ZERO,
                  ConditionTypes.FALSE,
                  "ScaleToZeroDisabled");
            });
    // An hour past scaleToZeroAfter, a gateway reports no demand at all.
    clock.advance(Duration.ofHours(1));
    StreamObserver<DemandReport> stream =
        operator.autoscaler().reportDemand(collect(new CopyOnWriteArrayList<>()));
    stream.onNext(report("gw-1", "warm", 0, 0));
    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () ->
                assertThat(md("warm").getStatus().getAutoscaler().getReason())
                    .endsWith("scale to zero is off for the cluster: keeping 1"));
    await()
        .during(Duration.ofSeconds(2))
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              assertThat(replicas("warm")).isEqualTo(1);
              assertThat(md("warm").getStatus().getDesiredReplicas()).isEqualTo(1);
            });
    assertThat(eventReasons("warm")).doesNotContain("ScaledToZero");
    stream.onCompleted();
  }

  @Test
  void kubectlScalePinsReplicasAndTheAutoscalerStandsAside() {
    create(Fixtures.pool("l4-pool", "NVIDIA-L4", "24Gi", 1, 8, 0.7));
    create(Fixtures.model("pinned", 1, 4));
    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(() -> assertThat(worker("pinned")).isNotNull());
    String hash = worker("pinned").getMetadata().getAnnotations().get("flotilla.dev/template-hash");

    client
        .resources(ModelDeployment.class)
        .inNamespace(NS)
        .withName("pinned")
        .edit(
            m -> {
              m.getSpec().setReplicas(3);
              return m;
            });

    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              ModelDeployment current = md("pinned");
              assertThat(current.getStatus().getObservedGeneration())
                  .isEqualTo(current.getMetadata().getGeneration());
              assertThat(current.getStatus().getAutoscaler().getReason())
                  .contains("spec.replicas pins 3");
              assertThat(replicas("pinned")).isEqualTo(3);
            });
    assertThat(worker("pinned").getMetadata().getAnnotations())
        .as("scaling never rolls workers")
        .containsEntry("flotilla.dev/template-hash", hash);
  }

  /**
   * The spec changes just as the operator has made the workers and is about to write status. The
   * status write must not hide the change: it fails on the resourceVersion it was computed from,
   * and the change is reconciled (a lost change stays unreconciled: nothing else wakes a deployment
   * at zero).
   */
  @Test
  void aSpecChangeRacingAStatusWriteIsReconciled() {
    create(Fixtures.pool("big", "NVIDIA-L4", "24Gi", 8, 10, 0.7));
    for (int i = 0; i < 10; i++) {
      String name = "race-" + i;
      CountDownLatch edited = new CountDownLatch(1);
      try (Watch watch =
          client
              .apps()
              .deployments()
              .inNamespace(NS)
              .withName(name + "-worker")
              .watch(
                  new Watcher<>() {
                    @Override
                    public void eventReceived(Action action, Deployment resource) {
                      if (action == Action.ADDED && edited.getCount() > 0) {
                        pin(name, 3);
                        edited.countDown();
                      }
                    }

                    @Override
                    public void onClose(WatcherException cause) {}
                  })) {
        create(Fixtures.model(name, 1, 4));
        await().atMost(WAIT).ignoreExceptions().until(() -> edited.getCount() == 0);
      }
      await()
          .atMost(WAIT)
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                ModelDeployment current = md(name);
                assertThat(current.getMetadata().getGeneration()).isEqualTo(2L);
                assertThat(current.getStatus().getObservedGeneration()).as(name).isEqualTo(2L);
                assertThat(worker(name).getSpec().getReplicas()).isEqualTo(3);
              });
    }
  }

  /**
   * {@code kubectl scale}: an edit locked on the resourceVersion it read, tried again on a
   * conflict.
   */
  void pin(String name, int replicas) {
    while (true) {
      try {
        client
            .resources(ModelDeployment.class)
            .inNamespace(NS)
            .withName(name)
            .edit(
                m -> {
                  m.getSpec().setReplicas(replicas);
                  return m;
                });
        return;
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          throw e;
        }
      }
    }
  }

  @Test
  void aDeletedDeploymentIsForgottenAndItsPoolFreedAtOnce() {
    create(Fixtures.pool("l4-pool", "NVIDIA-L4", "24Gi", 1, 4, 0.7));
    ModelDeployment md = Fixtures.model("cold", 1, 2);
    create(md);
    StreamObserver<DemandReport> stream =
        operator.autoscaler().reportDemand(collect(new CopyOnWriteArrayList<>()));
    stream.onNext(report("gw-1", 0, 1));
    ResourceID id = new ResourceID("cold", NS);
    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              assertThat(replicas("cold")).isEqualTo(1);
              assertThat(operator.demand().published(id)).isNotNull();
              assertThat(pool("l4-pool").getStatus().getAllocatedGpus()).isEqualTo(2);
            });

    client.resources(ModelDeployment.class).inNamespace(NS).withName("cold").delete();

    await()
        .atMost(PROMPTLY)
        .untilAsserted(
            () -> {
              assertThat(operator.demand().published(id)).isNull();
              assertThat(operator.demand().memory(id)).isNull();
              assertThat(
                      operator
                          .demand()
                          .snapshot(
                              id,
                              clock.instant(),
                              Duration.ofMinutes(1),
                              Duration.ofSeconds(6),
                              Duration.ofMinutes(1)))
                  .isEqualTo(DemandSnapshot.NONE);
              assertThat(pool("l4-pool").getStatus().getAllocatedGpus()).isZero();
              assertThat(pool("l4-pool").getStatus().getPlacements()).isEmpty();
            });
    stream.onCompleted();
  }

  @Test
  void aDeploymentThatLeavesAPoolLeavesItsStatusAtOnce() {
    create(Fixtures.pool("a", "NVIDIA-L4", "24Gi", 1, 4, 0.5));
    create(Fixtures.pool("b", "NVIDIA-L4", "24Gi", 1, 4, 0.7));
    create(Fixtures.onPools(Fixtures.model("mover", 1, 2), "a"));
    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () ->
                assertThat(pool("a").getStatus().getPlacements())
                    .extracting(p -> p.getName())
                    .containsExactly("mover"));

    client
        .resources(ModelDeployment.class)
        .inNamespace(NS)
        .withName("mover")
        .edit(m -> Fixtures.onPools(m, "b"));
    await()
        .atMost(PROMPTLY)
        .untilAsserted(
            () -> {
              assertThat(md("mover").getStatus().getPool()).isEqualTo("b");
              assertThat(pool("a").getStatus().getPlacements()).isEmpty();
              assertThat(pool("a").getStatus().getAllocatedGpus()).isZero();
              assertThat(pool("b").getStatus().getPlacements())
                  .extracting(p -> p.getName())
                  .containsExactly("mover");
            });

    client
        .resources(ModelDeployment.class)
        .inNamespace(NS)
        .withName("mover")
        .edit(m -> Fixtures.onPools(m, "missing"));
    await()
        .atMost(PROMPTLY)
        .untilAsserted(
            () -> {
              assertCondition(
                  md("mover"), ConditionTypes.PLACED, ConditionTypes.FALSE, "PoolNotFound");
              assertThat(pool("b").getStatus().getPlacements()).isEmpty();
              assertThat(pool("b").getStatus().getAllocatedGpus()).isZero();
            });
  }

  GpuNodePool pool(String name) {
    return client.resources(GpuNodePool.class).withName(name).get();
  }

  @Test
  void restartKeepsTheIdleClock() {
    create(Fixtures.pool("l4-pool", "NVIDIA-L4", "24Gi", 1, 4, 0.7));
    ModelDeployment md = Fixtures.model("cold", 1, 2);
    md.getSpec().getScaling().setScaleToZeroAfter("5m");
    create(md);
    StreamObserver<DemandReport> stream =
        operator.autoscaler().reportDemand(collect(new CopyOnWriteArrayList<>()));
    stream.onNext(report("gw-1", 0, 1));
    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(() -> assertThat(replicas("cold")).isEqualTo(1));
    Instant lastDemand = clock.instant();
    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () ->
                assertThat(md("cold").getStatus().getAutoscaler().getLastDemandTime())
                    .isEqualTo(lastDemand.toString()));
    stream.onCompleted();

    // A new operator process, 4 of the 5 idle minutes later: it must not restart the clock.
    operator.close();
    clock.advance(Duration.ofMinutes(4));
    operator = new OperatorHarness(client, settings, clock, null).start();
    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () ->
                assertThat(md("cold").getStatus().getAutoscaler().getReason())
                    .isEqualTo("no demand reports; keeping 1"));
    assertThat(replicas("cold")).isEqualTo(1);
    assertThat(md("cold").getStatus().getAutoscaler().getLastDemandTime())
        .isEqualTo(lastDemand.toString());

    clock.advance(Duration.ofSeconds(61));
    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(() -> assertThat(replicas("cold")).isZero());
  }

  static DemandReport report(String gateway, int inFlight, int held) {
    return report(gateway, "cold", inFlight, held);
  }

  static DemandReport report(String gateway, String model, int inFlight, int held) {
    return DemandReport.newBuilder()
        .setGatewayId(gateway)
        .addModels(
            ModelDemand.newBuilder()
                .setNamespace(NS)
                .setModel(model)
                .setInFlight(inFlight)
                .setHeldWhileCold(held))
        .build();
  }

  static StreamObserver<ScaleDecision> collect(List<ScaleDecision> into) {
    return new StreamObserver<>() {
      @Override
      public void onNext(ScaleDecision value) {
        into.add(value);
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {}
    };
  }
}
