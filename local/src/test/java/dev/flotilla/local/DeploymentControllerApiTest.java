package dev.flotilla.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.flotilla.api.crd.ModelDeployment;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.io.InputStream;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The Deployment controller and garbage collector stand-ins, with tests playing the kubelet. */
@ExtendWith(FailureDump.class)
class DeploymentControllerApiTest {
  static LocalApi api;
  static DeploymentController controller;
  static GarbageCollector collector;

  @BeforeAll
  static void start() throws Exception {
    api = LocalApi.start(DeploymentControllerApiTest.class);
    controller = new DeploymentController(api.client()).start();
    collector = new GarbageCollector(api.client()).start();
  }

  @AfterAll
  static void stop() {
    collector.close();
    controller.close();
    api.close();
  }

  @Test
  void keepsReplicasPodsOfTheTemplateAndReportsReadiness() {
    create("scaled", 2, "v1");
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(pods("scaled"))
                    .hasSize(2)
                    .allSatisfy(
                        p -> {
                          assertThat(p.getMetadata().getLabels())
                              .containsEntry("app", "scaled")
                              .containsKey("pod-template-hash");
                          // Pod → ReplicaSet → Deployment, as on a cluster.
                          assertThat(p.getMetadata().getOwnerReferences())
                              .singleElement()
                              .satisfies(
                                  o -> {
                                    assertThat(o.getKind()).isEqualTo("ReplicaSet");
                                    assertThat(o.getController()).isTrue();
                                    assertThat(
                                            api.client()
                                                .apps()
                                                .replicaSets()
                                                .inNamespace(api.namespace)
                                                .withName(o.getName())
                                                .get()
                                                .getMetadata()
                                                .getOwnerReferences())
                                        .singleElement()
                                        .satisfies(
                                            d -> {
                                              assertThat(d.getKind()).isEqualTo("Deployment");
                                              assertThat(d.getName()).isEqualTo("scaled");
                                              assertThat(d.getUid())
                                                  .isEqualTo(
                                                      deployment("scaled").getMetadata().getUid());
                                            });
                                  });
                          assertThat(p.getSpec().getContainers().get(0).getImage())
                              .isEqualTo("app:v1");
                        }));
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(deployment("scaled").getStatus())
                    .satisfies(
                        s -> {
                          assertThat(s.getReplicas()).isEqualTo(2);
                          assertThat(s.getReadyReplicas()).isZero();
                        }));

    markReady(pods("scaled").get(0));
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> assertThat(deployment("scaled").getStatus().getReadyReplicas()).isEqualTo(1));

    scale("scaled", 0);
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(pods("scaled")).isEmpty());
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(deployment("scaled").getStatus().getReplicas()).isZero());

    scale("scaled", 3);
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(pods("scaled")).hasSize(3));
  }

  @Test
  void aNewTemplateReplacesPodsOnceTheNewOnesAreReady() {
    create("rolled", 1, "v1");
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(pods("rolled")).hasSize(1));
    Pod old = pods("rolled").get(0);
    markReady(old);

    api.client()
        .apps()
        .deployments()
        .inNamespace(api.namespace)
        .withName("rolled")
        .patch(
            PatchContext.of(PatchType.JSON_MERGE),
            "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"app:v2\"}]}}}}");
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(pods("rolled")).hasSize(2));
    Pod fresh =
        pods("rolled").stream()
            .filter(p -> !p.getMetadata().getName().equals(old.getMetadata().getName()))
            .findFirst()
            .orElseThrow();
    assertThat(fresh.getSpec().getContainers().get(0).getImage()).isEqualTo("app:v2");

    markReady(fresh);
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(pods("rolled"))
                    .extracting(p -> p.getMetadata().getName())
                    .containsExactly(fresh.getMetadata().getName()));
  }

  @Test
  void deletingAnOwnerDeletesWhatItOwnedDownToThePods() throws Exception {
    try (InputStream in =
        Files.newInputStream(LocalApi.repoRoot().resolve("examples/model-deployment.yaml"))) {
      ModelDeployment md = api.client().resources(ModelDeployment.class).load(in).item();
      md.getMetadata().setNamespace(api.namespace);
      md = api.client().resource(md).create();
      Deployment d = deploymentSpec("owned", 2, "v1");
      d.getMetadata()
          .setOwnerReferences(
              List.of(
                  new io.fabric8.kubernetes.api.model.OwnerReferenceBuilder()
                      .withApiVersion("flotilla.dev/v1alpha1")
                      .withKind("ModelDeployment")
                      .withName(md.getMetadata().getName())
                      .withUid(md.getMetadata().getUid())
                      .withController(true)
                      .build()));
      api.client().apps().deployments().inNamespace(api.namespace).resource(d).create();
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(pods("owned")).hasSize(2));

    api.client()
        .resources(ModelDeployment.class)
        .inNamespace(api.namespace)
        .withName("tiny-llama")
        .delete();
    await()
        .atMost(Duration.ofSeconds(15))
        .untilAsserted(
            () -> {
              assertThat(
                      api.client()
                          .apps()
                          .deployments()
                          .inNamespace(api.namespace)
                          .withName("owned")
                          .get())
                  .isNull();
              assertThat(pods("owned")).isEmpty();
            });
  }

  private static void create(String name, int replicas, String version) {
    api.client()
        .apps()
        .deployments()
        .inNamespace(api.namespace)
        .resource(deploymentSpec(name, replicas, version))
        .create();
  }

  private static Deployment deploymentSpec(String name, int replicas, String version) {
    return new DeploymentBuilder()
        .withNewMetadata()
        .withName(name)
        .withNamespace(api.namespace)
        .endMetadata()
        .withNewSpec()
        .withReplicas(replicas)
        .withNewSelector()
        .addToMatchLabels("app", name)
        .endSelector()
        .withNewTemplate()
        .withNewMetadata()
        .addToLabels("app", name)
        .endMetadata()
        .withNewSpec()
        .addNewContainer()
        .withName("app")
        .withImage("app:" + version)
        .endContainer()
        .endSpec()
        .endTemplate()
        .endSpec()
        .build();
  }

  private static void scale(String name, int replicas) {
    api.client()
        .apps()
        .deployments()
        .inNamespace(api.namespace)
        .withName(name)
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"replicas\":" + replicas + "}}");
  }

  private static Deployment deployment(String name) {
    return api.client().apps().deployments().inNamespace(api.namespace).withName(name).get();
  }

  private static List<Pod> pods(String app) {
    return api.client().pods().inNamespace(api.namespace).withLabel("app", app).list().getItems();
  }

  private static void markReady(Pod pod) {
    api.client()
        .pods()
        .inNamespace(api.namespace)
        .withName(pod.getMetadata().getName())
        .subresource("status")
        .patch(
            PatchContext.of(PatchType.JSON_MERGE),
            "{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}");
  }
}
