package dev.flotilla.chart;

import static dev.flotilla.chart.FlotillaChart.NAMESPACE;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flotilla.chart.FlotillaChart.Rendered;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What `helm install` does, on the in-memory API server: the chart's crds/ first, then every
 * rendered object; each reads back as it was sent.
 */
@EnableKubernetesMockClient(crud = true)
class ChartInstallApiTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  KubernetesMockServer server;
  KubernetesClient client;

  @BeforeEach
  void installChartCrds() throws IOException {
    for (Path crd : yamlFiles(FlotillaChart.chartDir().resolve("crds"))) {
      try (InputStream in = Files.newInputStream(crd)) {
        client.apiextensions().v1().customResourceDefinitions().load(in).create();
      }
    }
  }

  @Test
  void chartCrdsInstallAndServeTheFlotillaKinds() {
    List<CustomResourceDefinition> crds =
        client.apiextensions().v1().customResourceDefinitions().list().getItems();

    assertThat(crds)
        .extracting(c -> c.getMetadata().getName())
        .containsExactlyInAnyOrder(
            "modeldeployments.flotilla.dev",
            "loraadapters.flotilla.dev",
            "tenants.flotilla.dev",
            "gpunodepools.flotilla.dev");
    assertThat(crds)
        .allSatisfy(
            c ->
                assertThat(c.getSpec().getVersions())
                    .anySatisfy(v -> assertThat(v.getSubresources().getStatus()).isNotNull()));
  }

  @Test
  void defaultRenderAppliesAndReadsBack() {
    assertAppliesAndReadsBack(FlotillaChart.renderDefaults());
  }

  @Test
  void customRenderAppliesAndReadsBackOnAClusterWithThePrometheusOperator() {
    client.apiextensions().v1().customResourceDefinitions().resource(serviceMonitorCrd()).create();
    Rendered rendered = FlotillaChart.renderCustom();

    assertAppliesAndReadsBack(rendered);
    assertThat(
            client
                .genericKubernetesResources("monitoring.coreos.com/v1", "ServiceMonitor")
                .inNamespace(NAMESPACE)
                .list()
                .getItems())
        .hasSize(2);
    assertThat(
            client
                .apps()
                .deployments()
                .inNamespace(NAMESPACE)
                .withName("prod-flotilla-gateway")
                .get()
                .getSpec()
                .getReplicas())
        .isEqualTo(3);
  }

  private void assertAppliesAndReadsBack(Rendered rendered) {
    for (HasMetadata object : rendered.objects()) {
      client.resource(object).create();
    }
    for (HasMetadata object : rendered.objects()) {
      HasMetadata stored = client.resource(object).get();
      assertThat(stored).as("%s/%s", object.getKind(), object.getMetadata().getName()).isNotNull();
      assertThat(stored.getMetadata().getLabels()).isEqualTo(object.getMetadata().getLabels());
      assertThat(content(stored))
          .as("%s/%s as stored", object.getKind(), object.getMetadata().getName())
          .isEqualTo(content(object));
    }
    assertThat(client.apps().deployments().inNamespace(NAMESPACE).list().getItems())
        .extracting(Deployment::getMetadata)
        .extracting(m -> m.getLabels().get("app.kubernetes.io/component"))
        .containsExactlyInAnyOrder("operator", "gateway");
    assertThat(client.rbac().clusterRoles().list().getItems()).hasSize(2);
  }

  /** An object without its metadata and status: what the chart says about it. */
  private static JsonNode content(HasMetadata object) {
    ObjectNode node = JSON.valueToTree(object);
    node.remove("metadata");
    node.remove("status");
    return node;
  }

  private static CustomResourceDefinition serviceMonitorCrd() {
    return new CustomResourceDefinitionBuilder()
        .withNewMetadata()
        .withName("servicemonitors.monitoring.coreos.com")
        .endMetadata()
        .withNewSpec()
        .withGroup("monitoring.coreos.com")
        .withScope("Namespaced")
        .withNewNames()
        .withKind("ServiceMonitor")
        .withPlural("servicemonitors")
        .withSingular("servicemonitor")
        .withListKind("ServiceMonitorList")
        .endNames()
        .addNewVersion()
        .withName("v1")
        .withServed(true)
        .withStorage(true)
        .withNewSchema()
        .withNewOpenAPIV3Schema()
        .withType("object")
        .withXKubernetesPreserveUnknownFields(true)
        .endOpenAPIV3Schema()
        .endSchema()
        .endVersion()
        .endSpec()
        .build();
  }

  private static List<Path> yamlFiles(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(p -> p.toString().matches(".*\\.ya?ml$")).sorted().toList();
    }
  }
}
