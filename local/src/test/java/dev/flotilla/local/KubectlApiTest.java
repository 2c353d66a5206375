package dev.flotilla.local;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.crd.ModelDeployment;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Base64;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The real kubectl against the local API server: discovery with short names, apply, get with the
 * CRDs' printer columns, scale through the scale subresource, delete, logs, explain from the CRDs'
 * schemas.
 */
@ExtendWith(FailureDump.class)
class KubectlApiTest {
  static LocalApi api;
  static Kubectl kubectl;

  @BeforeAll
  static void start() throws Exception {
    api = LocalApi.start(KubectlApiTest.class);
    kubectl = new Kubectl(api.kubeconfig);
  }

  @AfterAll
  static void stop() {
    api.close();
  }

  @Test
  void discoveryNamesTheFlotillaKindsWithShortNames() throws Exception {
    String resources = kubectl.ok("api-resources", "--api-group=flotilla.dev", "--no-headers");
    assertThat(resources.lines().map(l -> l.trim().split("\\s+")[0]))
        .containsExactlyInAnyOrder("gpunodepools", "loraadapters", "modeldeployments", "tenants");
    assertThat(resources)
        .containsPattern(
            "modeldeployments\\s+md\\s+flotilla.dev/v1alpha1\\s+true\\s+ModelDeployment")
        .containsPattern("loraadapters\\s+lora\\s+");
  }

  @Test
  void explainPrintsTheFieldsOfTheCrdSchema() throws Exception {
    String spec = kubectl.ok("explain", "md.spec");
    assertThat(spec)
        .startsWith(
            "GROUP:      flotilla.dev\nKIND:       ModelDeployment\nVERSION:    v1alpha1\n\n"
                + "FIELD: spec <Object>\n")
        .contains("FIELDS:\n")
        .containsPattern(
            "\n  model\t<Object> -required-\n    The base model's files and how to hold them.\n")
        .containsPattern("\n  scaling\t<Object>\n    Autoscaling bounds and timing.\n")
        .contains(
            "  engine\t<Object>",
            "  image\t<string>",
            "  placement\t<Object>",
            "  replicas\t<integer>");

    String scaling = kubectl.ok("explain", "modeldeployment.spec.scaling");
    assertThat(scaling)
        .contains("FIELD: scaling <Object>", "Autoscaling bounds and timing.")
        .containsPattern("\n  maxReplicas\t<integer>\n    Most replicas.\n")
        .contains("  panicThreshold\t<number>", "  scaleToZeroAfter\t<string>");

    assertThat(kubectl.ok("explain", "lora.spec.visibility"))
        .contains("FIELD: visibility <string>", "ENUM:\n    Private\n    Public");
    assertThat(kubectl.ok("explain", "tenants"))
        .contains(
            "KIND:       Tenant",
            "  apiVersion\t<string>",
            "  metadata\t<ObjectMeta>",
            "  spec\t<Object>");
    Kubectl.Result missing = kubectl.run("explain", "md.spec.nonsense");
    assertThat(missing.exitCode()).isEqualTo(1);
    assertThat(missing.output()).contains("field \"nonsense\" does not exist");
  }

  @Test
  void examplesApplyGetScaleAndDelete() throws Exception {
    String root = LocalApi.repoRoot().resolve("examples").toString();
    assertThat(kubectl.ok("apply", "-f", root))
        .contains(
            "modeldeployment.flotilla.dev/tiny-llama created",
            "tenant.flotilla.dev/acme created",
            "secret/acme-api-keys created");
    assertThat(kubectl.ok("apply", "-f", root))
        .contains("modeldeployment.flotilla.dev/tiny-llama unchanged");

    String table = kubectl.ok("get", "md", "-n", "default");
    assertThat(table.lines().findFirst().orElseThrow())
        .as("printer columns from the CRD")
        .containsSubsequence("NAME", "AGE", "MODEL", "DESIRED", "POOL", "READY");
    assertThat(table).contains("tiny-llama", "file:///var/lib/flotilla/models/tiny-llama");
    assertThat(kubectl.ok("get", "lora", "-n", "default", "-o", "name"))
        .contains("loraadapter.flotilla.dev/acme-support", "loraadapter.flotilla.dev/globex-sql");

    assertThat(kubectl.ok("scale", "md", "tiny-llama", "-n", "default", "--replicas=1"))
        .contains("scaled");
    assertThat(
            api.client()
                .resources(ModelDeployment.class)
                .inNamespace("default")
                .withName("tiny-llama")
                .get()
                .getSpec()
                .getReplicas())
        .isEqualTo(1);
    assertThat(
            kubectl.ok(
                "get", "md", "tiny-llama", "-n", "default", "-o", "jsonpath={.spec.replicas}"))
        .isEqualTo("1");

    // A real API server folds stringData into data; the gateway reads data.
    String demo =
        api.client()
            .secrets()
            .inNamespace("default")
            .withName("acme-api-keys")
            .get()
            .getData()
            .get("demo");
    assertThat(new String(Base64.getDecoder().decode(demo), StandardCharsets.UTF_8))
        .startsWith("sha256:");

    assertThat(kubectl.ok("delete", "md", "tiny-llama", "-n", "default")).contains("deleted");
    assertThat(
            api.client()
                .resources(ModelDeployment.class)
                .inNamespace("default")
                .withName("tiny-llama")
                .get())
        .isNull();
  }

  @Test
  void deploymentsScaleAndPodsShowTheirLogs() throws Exception {
    api.client()
        .apps()
        .deployments()
        .inNamespace(api.namespace)
        .resource(
            new DeploymentBuilder()
                .withNewMetadata()
                .withName("web")
                .endMetadata()
                .withNewSpec()
                .withReplicas(1)
                .withNewSelector()
                .addToMatchLabels("app", "web")
                .endSelector()
                .withNewTemplate()
                .withNewMetadata()
                .addToLabels("app", "web")
                .endMetadata()
                .withNewSpec()
                .addNewContainer()
                .withName("web")
                .withImage("web:1")
                .endContainer()
                .endSpec()
                .endTemplate()
                .endSpec()
                .build())
        .create();
    assertThat(kubectl.ok("scale", "deploy", "web", "--replicas=3")).contains("scaled");
    assertThat(
            api.client()
                .apps()
                .deployments()
                .inNamespace(api.namespace)
                .withName("web")
                .get()
                .getSpec()
                .getReplicas())
        .isEqualTo(3);

    api.client()
        .pods()
        .inNamespace(api.namespace)
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName("p")
                .addToLabels("app", "logged")
                .endMetadata()
                .withNewSpec()
                .addNewContainer()
                .withName("c")
                .withImage("x")
                .endContainer()
                .endSpec()
                .build())
        .create();
    Files.writeString(NodeAgent.logFile(api.logDir(), api.namespace, "p"), "one\ntwo\nthree\n");
    assertThat(kubectl.ok("logs", "p", "--tail=2")).isEqualTo("two\nthree\n");
    assertThat(kubectl.ok("logs", "-l", "app=logged", "--tail=1")).isEqualTo("three\n");
    assertThat(kubectl.ok("get", "pods"))
        .containsSubsequence("NAME", "READY", "STATUS", "AGE")
        .contains("p ");
  }
}
