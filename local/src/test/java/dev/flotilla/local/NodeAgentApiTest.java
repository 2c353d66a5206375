package dev.flotilla.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The node agent runs a pod of {@link TinyPod} as a local process: Ready once its probe passes,
 * restarted when it exits, stopped with SIGTERM when the pod goes away; its Secret volumes are
 * files the process finds where its environment names the mount path, kept current.
 */
@ExtendWith(FailureDump.class)
class NodeAgentApiTest {
  static LocalApi api;
  static ProcessSupervisor supervisor;
  static DeploymentController controller;
  static NodeAgent agent;
  static final HttpClient HTTP = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    api = LocalApi.start(NodeAgentApiTest.class);
    supervisor = new ProcessSupervisor();
    controller = new DeploymentController(api.client()).start();
    // Addresses from 127.0.0.200 so a local mode running on this machine (from .2) is not in the
    // way.
    agent =
        new NodeAgent(
                api.client(),
                supervisor,
                new PodCommands(),
                PodNetwork.detect(200),
                api.logDir(),
                api.dir.resolve("pods"),
                Map.of("test", "node-agent"))
            .start();
  }

  @AfterAll
  static void stop() {
    agent.close();
    controller.close();
    supervisor.close();
    api.close();
  }

  @Test
  void aPodRunsAsAProcessTurnsReadyAndStopsWhenScaledAway() throws Exception {
    api.client()
        .apps()
        .deployments()
        .inNamespace(api.namespace)
        .resource(tinyPods("tiny", 1))
        .create();

    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () ->
                assertThat(pods("tiny"))
                    .singleElement()
                    .satisfies(p -> assertThat(DeploymentController.isReady(p)).isTrue()));
    Pod pod = pods("tiny").get(0);
    assertThat(pod.getStatus().getPhase()).isEqualTo("Running");
    assertThat(pod.getStatus().getContainerStatuses())
        .singleElement()
        .satisfies(c -> assertThat(c.getReady()).isTrue());
    assertThat(pod.getMetadata().getFinalizers()).contains(NodeAgent.FINALIZER);
    String base = baseUrl(pod);
    assertThat(get(base + "/env/GREETING")).isEqualTo("hello from the pod spec");
    assertThat(get(base + "/env/POD_NAME")).isEqualTo(pod.getMetadata().getName());
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(
                        api.client()
                            .apps()
                            .deployments()
                            .inNamespace(api.namespace)
                            .withName("tiny")
                            .get()
                            .getStatus()
                            .getReadyReplicas())
                    .isEqualTo(1));

    api.client()
        .apps()
        .deployments()
        .inNamespace(api.namespace)
        .withName("tiny")
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"replicas\":0}}");
    await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(pods("tiny")).isEmpty());
    assertThat(
            Files.readString(
                NodeAgent.logFile(api.logDir(), api.namespace, pod.getMetadata().getName())))
        .contains("tiny pod listening", "tiny pod stopping");
    assertThat(reachable(base)).as("the process is gone").isFalse();
  }

  @Test
  void anExitedProcessIsRestartedAndReadyAgain() throws Exception {
    api.client()
        .apps()
        .deployments()
        .inNamespace(api.namespace)
        .resource(tinyPods("crashy", 1))
        .create();
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () ->
                assertThat(pods("crashy"))
                    .singleElement()
                    .satisfies(p -> assertThat(DeploymentController.isReady(p)).isTrue()));
    Pod pod = pods("crashy").get(0);

    get(baseUrl(pod) + "/exit/3");
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () ->
                assertThat(pods("crashy"))
                    .singleElement()
                    .satisfies(
                        p -> {
                          assertThat(p.getMetadata().getName())
                              .isEqualTo(pod.getMetadata().getName());
                          assertThat(p.getStatus().getContainerStatuses().get(0).getRestartCount())
                              .isEqualTo(1);
                          assertThat(
                                  p.getStatus()
                                      .getContainerStatuses()
                                      .get(0)
                                      .getLastState()
                                      .getTerminated()
                                      .getExitCode())
                              .isEqualTo(3);
                          assertThat(DeploymentController.isReady(p)).isTrue();
                        }));

    api.client().apps().deployments().inNamespace(api.namespace).withName("crashy").delete();
    api.client().pods().inNamespace(api.namespace).withLabel("app", "crashy").delete();
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(() -> assertThat(pods("crashy")).isEmpty());
  }

  @Test
  void aSecretVolumeIsFilesWhereTheMountPathPointsAndFollowsTheSecret() throws Exception {
    io.fabric8.kubernetes.api.model.apps.Deployment d = tinyPods("mounted", 1);
    d.getSpec()
        .getTemplate()
        .getSpec()
        .setVolumes(
            List.of(
                new VolumeBuilder()
                    .withName("creds")
                    .withNewSecret()
                    .withSecretName("tiny-creds")
                    .endSecret()
                    .build()));
    Container c = d.getSpec().getTemplate().getSpec().getContainers().get(0);
    c.setVolumeMounts(
        List.of(
            new VolumeMountBuilder()
                .withName("creds")
                .withMountPath("/var/run/creds")
                .withReadOnly(true)
                .build()));
    List<EnvVar> env = new ArrayList<>(c.getEnv());
    env.add(new EnvVar("CREDS_DIR", "/var/run/creds", null));
    c.setEnv(env);
    api.client().apps().deployments().inNamespace(api.namespace).resource(d).create();

    // No Secret yet: the container waits, as on a cluster.
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () ->
                assertThat(pods("mounted"))
                    .singleElement()
                    .satisfies(
                        p ->
                            assertThat(p.getStatus().getContainerStatuses())
                                .singleElement()
                                .satisfies(
                                    status ->
                                        assertThat(status.getState().getWaiting())
                                            .isNotNull()
                                            .satisfies(
                                                w ->
                                                    assertThat(w.getMessage())
                                                        .contains("tiny-creds")))));
    assertThat(DeploymentController.isReady(pods("mounted").get(0))).isFalse();

    secret("tiny-creds", "first");
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () ->
                assertThat(pods("mounted"))
                    .singleElement()
                    .satisfies(p -> assertThat(DeploymentController.isReady(p)).isTrue()));
    String base = baseUrl(pods("mounted").get(0));
    assertThat(get(base + "/file/CREDS_DIR/token")).isEqualTo("first");
    assertThat(get(base + "/env/CREDS_DIR")).doesNotStartWith("/var/run/creds");

    secret("tiny-creds", "second");
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(get(base + "/file/CREDS_DIR/token")).isEqualTo("second"));

    api.client().apps().deployments().inNamespace(api.namespace).withName("mounted").delete();
    api.client().pods().inNamespace(api.namespace).withLabel("app", "mounted").delete();
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(() -> assertThat(pods("mounted")).isEmpty());
  }

  /**
   * Worker pods come with a restricted security context, no service-account token and an emptyDir
   * on /tmp. A process here cannot apply them; the node runs the pod all the same, as it does every
   * other field it has no use for.
   */
  @Test
  void aPodWithTheWorkersSecuritySettingsRunsAsAProcess() throws Exception {
    io.fabric8.kubernetes.api.model.apps.Deployment d = tinyPods("hardened", 1);
    io.fabric8.kubernetes.api.model.PodSpec spec = d.getSpec().getTemplate().getSpec();
    spec.setAutomountServiceAccountToken(false);
    spec.setSecurityContext(
        new io.fabric8.kubernetes.api.model.PodSecurityContextBuilder()
            .withRunAsNonRoot(true)
            .withRunAsUser(10001L)
            .withRunAsGroup(10001L)
            .withNewSeccompProfile()
            .withType("RuntimeDefault")
            .endSeccompProfile()
            .build());
    spec.setVolumes(
        List.of(new VolumeBuilder().withName("tmp").withNewEmptyDir().endEmptyDir().build()));
    Container c = spec.getContainers().get(0);
    c.setSecurityContext(
        new io.fabric8.kubernetes.api.model.SecurityContextBuilder()
            .withRunAsNonRoot(true)
            .withRunAsUser(10001L)
            .withReadOnlyRootFilesystem(true)
            .withAllowPrivilegeEscalation(false)
            .withPrivileged(false)
            .withNewCapabilities()
            .addToDrop("ALL")
            .endCapabilities()
            .build());
    c.setVolumeMounts(
        List.of(new VolumeMountBuilder().withName("tmp").withMountPath("/tmp").build()));
    api.client().apps().deployments().inNamespace(api.namespace).resource(d).create();

    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () ->
                assertThat(pods("hardened"))
                    .singleElement()
                    .satisfies(p -> assertThat(DeploymentController.isReady(p)).isTrue()));
    assertThat(get(baseUrl(pods("hardened").get(0)) + "/env/GREETING"))
        .isEqualTo("hello from the pod spec");

    api.client().apps().deployments().inNamespace(api.namespace).withName("hardened").delete();
    api.client().pods().inNamespace(api.namespace).withLabel("app", "hardened").delete();
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(() -> assertThat(pods("hardened")).isEmpty());
  }

  private static void secret(String name, String token) {
    api.client()
        .secrets()
        .inNamespace(api.namespace)
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .addToData(
                    "token",
                    Base64.getEncoder().encodeToString(token.getBytes(StandardCharsets.UTF_8)))
                .build())
        .createOr(r -> r.update());
  }

  private static io.fabric8.kubernetes.api.model.apps.Deployment tinyPods(
      String name, int replicas) {
    String classpath = System.getProperty("flotilla.test.classes", "target/test-classes");
    return new DeploymentBuilder()
        .withNewMetadata()
        .withName(name)
        .endMetadata()
        .withNewSpec()
        .withReplicas(replicas)
        .withNewSelector()
        .addToMatchLabels("app", name)
        .endSelector()
        .withNewTemplate()
        .withNewMetadata()
        .addToLabels("app", name)
        .addToLabels("test", "node-agent")
        .endMetadata()
        .withNewSpec()
        .withTerminationGracePeriodSeconds(5L)
        .addNewContainer()
        .withName("tiny")
        .withImage("tiny:1")
        .withCommand(
            List.of(
                ProcessSupervisor.javaCommand(),
                "-XX:TieredStopAtLevel=1",
                "-cp",
                classpath,
                TinyPod.class.getName()))
        .addNewPort()
        .withName("http")
        .withContainerPort(18081)
        .endPort()
        .addNewEnv()
        .withName("GREETING")
        .withValue("hello from the pod spec")
        .endEnv()
        .addNewEnv()
        .withName("TINY_POD_READY_AFTER_MS")
        .withValue("300")
        .endEnv()
        .addNewEnv()
        .withName("POD_NAME")
        .withNewValueFrom()
        .withNewFieldRef()
        .withFieldPath("metadata.name")
        .endFieldRef()
        .endValueFrom()
        .endEnv()
        .withNewReadinessProbe()
        .withNewHttpGet()
        .withPath("/q/health/ready")
        .withPort(new IntOrString("http"))
        .endHttpGet()
        .endReadinessProbe()
        .endContainer()
        .endSpec()
        .endTemplate()
        .endSpec()
        .build();
  }

  private static List<Pod> pods(String app) {
    return api.client().pods().inNamespace(api.namespace).withLabel("app", app).list().getItems();
  }

  private static String baseUrl(Pod pod) {
    String port =
        pod.getMetadata().getAnnotations().get(PodNetwork.PORT_ANNOTATION_PREFIX + "http");
    return "http://" + pod.getStatus().getPodIP() + ":" + port;
  }

  private static String get(String url) throws IOException, InterruptedException {
    return HTTP.send(
            HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString())
        .body();
  }

  private static boolean reachable(String base) {
    try {
      get(base + "/q/health/ready");
      return true;
    } catch (IOException | InterruptedException e) {
      return false;
    }
  }
}
