package dev.flotilla.gateway.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.flotilla.gateway.auth.TenantDirectory;
import dev.flotilla.gateway.catalog.ModelCatalog;
import dev.flotilla.gateway.route.WorkerRegistry;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.api.model.apps.ReplicaSetBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Worker discovery through the gateway's informers: a pod becomes a worker endpoint only when its
 * owners lead to the worker Deployment the operator made for its model. A pod that merely carries
 * the model's label gets no requests.
 */
@EnableKubernetesMockClient(crud = true)
class WorkerDiscoveryApiTest {
  static final String NS = "default";
  static final Map<String, String> WORKER_LABELS =
      Map.of(
          "app.kubernetes.io/name", "flotilla-worker",
          "app.kubernetes.io/managed-by", "flotilla-operator",
          "flotilla.dev/model", "tiny");

  KubernetesClient client;
  KubernetesInformers informers;
  final WorkerRegistry registry = new WorkerRegistry();

  static final GatewayConfig.Workers WORKERS =
      new GatewayConfig.Workers() {
        @Override
        public int port() {
          return 9100;
        }

        @Override
        public String modelLabel() {
          return "flotilla.dev/model";
        }

        @Override
        public int statsIntervalMs() {
          return 1000;
        }
      };

  @BeforeEach
  void start() {
    informers = new KubernetesInformers(client);
    informers.start(new TenantDirectory(), new ModelCatalog(), registry, WORKERS, List.of());
  }

  @AfterEach
  void stop() {
    informers.stop();
  }

  static OwnerReference controller(HasMetadata owner) {
    return new OwnerReferenceBuilder()
        .withApiVersion(owner.getApiVersion())
        .withKind(owner.getKind())
        .withName(owner.getMetadata().getName())
        .withUid(owner.getMetadata().getUid())
        .withController(true)
        .build();
  }

  /** The worker Deployment the operator makes for ModelDeployment "tiny", and its ReplicaSet. */
  ReplicaSet operatorsWorkers() {
    OwnerReference md =
        new OwnerReferenceBuilder()
            .withApiVersion("flotilla.dev/v1alpha1")
            .withKind("ModelDeployment")
            .withName("tiny")
            .withUid(UUID.randomUUID().toString())
            .withController(true)
            .build();
    Deployment d =
        client
            .resource(
                new DeploymentBuilder()
                    .withNewMetadata()
                    .withNamespace(NS)
                    .withName("tiny-worker")
                    .withLabels(WORKER_LABELS)
                    .withOwnerReferences(md)
                    .endMetadata()
                    .build())
            .create();
    return replicaSet("tiny-worker-5d9c", d);
  }

  ReplicaSet replicaSet(String name, Deployment owner) {
    return client
        .resource(
            new ReplicaSetBuilder()
                .withNewMetadata()
                .withNamespace(NS)
                .withName(name)
                .withLabels(WORKER_LABELS)
                .withOwnerReferences(controller(owner))
                .endMetadata()
                .build())
        .create();
  }

  /** A Ready pod with the model's label, at {@code ip}, controlled by {@code owner} (or none). */
  void readyPod(String name, String ip, HasMetadata owner) {
    Pod pod =
        client
            .resource(
                new PodBuilder()
                    .withNewMetadata()
                    .withNamespace(NS)
                    .withName(name)
                    .withLabels(WORKER_LABELS)
                    .withOwnerReferences(owner == null ? null : controller(owner))
                    .endMetadata()
                    .build())
            .create();
    pod.setStatus(
        new io.fabric8.kubernetes.api.model.PodStatusBuilder()
            .withPhase("Running")
            .withPodIP(ip)
            .addNewCondition()
            .withType("Ready")
            .withStatus("True")
            .endCondition()
            .build());
    client.resource(pod).updateStatus();
  }

  @Test
  void aLabelledPodTheOperatorDidNotMakeGetsNoRequests() {
    ReplicaSet workers = operatorsWorkers();
    Deployment someoneElses =
        client
            .resource(
                new DeploymentBuilder()
                    .withNewMetadata()
                    .withNamespace(NS)
                    .withName("lookalike")
                    .withLabels(WORKER_LABELS)
                    .endMetadata()
                    .build())
            .create();

    readyPod("tiny-worker-5d9c-abcde", "10.0.0.1", workers);
    readyPod("rogue", "10.0.0.66", null);
    readyPod("rogue-via-other-rs", "10.0.0.67", replicaSet("lookalike-1", someoneElses));
    // In a cluster no pod is controlled by a Deployment directly.
    readyPod(
        "rogue-under-the-deployment",
        "10.0.0.68",
        client.apps().deployments().inNamespace(NS).withName("tiny-worker").get());

    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> registry.endpoint(NS + "/tiny-worker-5d9c-abcde").isPresent());
    await()
        .during(Duration.ofSeconds(1))
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(
            () ->
                assertThat(registry.views(NS + "/tiny"))
                    .extracting(v -> v.id())
                    .containsExactly(NS + "/tiny-worker-5d9c-abcde"));
    assertThat(registry.modelAt("10.0.0.66:9100")).isEmpty();
  }

  @Test
  void aPodBecomesAnEndpointWhenItsOwnersLeadToTheOperatorAndLeavesWithTheDeployment() {
    ReplicaSet orphan =
        client
            .resource(
                new ReplicaSetBuilder()
                    .withNewMetadata()
                    .withNamespace(NS)
                    .withName("tiny-worker-77aa")
                    .withLabels(WORKER_LABELS)
                    .endMetadata()
                    .build())
            .create();
    readyPod("tiny-worker-77aa-xyz", "10.0.0.2", orphan);
    await()
        .during(Duration.ofMillis(500))
        .atMost(Duration.ofSeconds(5))
        .until(() -> registry.endpoint(NS + "/tiny-worker-77aa-xyz").isEmpty());

    ReplicaSet adopted = operatorsWorkers();
    client
        .resource(
            new ReplicaSetBuilder(client.resource(orphan).get())
                .editMetadata()
                .withOwnerReferences(adopted.getMetadata().getOwnerReferences())
                .endMetadata()
                .build())
        .update();

    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> registry.endpoint(NS + "/tiny-worker-77aa-xyz").isPresent());
    client.apps().deployments().inNamespace(NS).withName("tiny-worker").delete();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> registry.endpoint(NS + "/tiny-worker-77aa-xyz").isEmpty());
  }
}
