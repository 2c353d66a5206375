package dev.flotilla.local;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.crd.GpuNodePool;
import dev.flotilla.api.crd.LoraAdapter;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.api.crd.Tenant;
import dev.flotilla.api.crd.Visibility;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What a model owner does first: install the CRDs from crds/ and apply examples/ to an API server,
 * then read the typed resources back.
 */
@EnableKubernetesMockClient(crud = true)
class ExamplesApiTest {
  KubernetesMockServer server;
  KubernetesClient client;

  @BeforeEach
  void installCrds() throws IOException {
    for (Path crd : yamlFiles(root().resolve("crds"))) {
      try (InputStream in = Files.newInputStream(crd)) {
        client.apiextensions().v1().customResourceDefinitions().load(in).create();
      }
    }
  }

  @Test
  void crdsInstallWithTheirNamesAndScaleSubresource() {
    List<CustomResourceDefinition> crds =
        client.apiextensions().v1().customResourceDefinitions().list().getItems();
    assertThat(crds)
        .extracting(c -> c.getMetadata().getName())
        .containsExactlyInAnyOrder(
            "modeldeployments.flotilla.dev",
            "loraadapters.flotilla.dev",
            "tenants.flotilla.dev",
            "gpunodepools.flotilla.dev");
    CustomResourceDefinition md =
        client
            .apiextensions()
            .v1()
            .customResourceDefinitions()
            .withName("modeldeployments.flotilla.dev")
            .get();
    assertThat(md.getSpec().getNames().getShortNames()).containsExactly("md");
    assertThat(md.getSpec().getVersions().get(0).getSubresources().getScale().getSpecReplicasPath())
        .isEqualTo(".spec.replicas");
  }

  @Test
  void examplesApplyAndReadBackAsTypedResources() throws IOException {
    for (Path example : yamlFiles(root().resolve("examples"))) {
      try (InputStream in = Files.newInputStream(example)) {
        for (HasMetadata object : client.load(in).items()) {
          client.resource(object).create();
        }
      }
    }

    ModelDeployment model =
        client.resources(ModelDeployment.class).inNamespace("default").withName("tiny-llama").get();
    assertThat(model.getSpec().getScaling().getMinReplicas()).isZero();
    assertThat(model.getSpec().getModel().getSource()).startsWith("file://");

    assertThat(client.resources(Tenant.class).list().getItems())
        .extracting(t -> t.getMetadata().getName())
        .containsExactlyInAnyOrder("acme", "globex");
    assertThat(client.resources(LoraAdapter.class).inNamespace("default").list().getItems())
        .allSatisfy(a -> assertThat(a.getSpec().getVisibility()).isEqualTo(Visibility.Private))
        .extracting(a -> a.getSpec().getTenant())
        .containsExactlyInAnyOrder("acme", "globex");
    GpuNodePool pool = client.resources(GpuNodePool.class).withName("l4-pool").get();
    assertThat(pool.getSpec().getGpu().getMemory()).isEqualTo("24Gi");
    Secret keys = client.secrets().inNamespace("default").withName("acme-api-keys").get();
    // A real API server folds stringData into base64 data; the in-memory one keeps it as sent.
    String demoKey =
        keys.getStringData() != null && keys.getStringData().containsKey("demo")
            ? keys.getStringData().get("demo")
            : new String(
                Base64.getDecoder().decode(keys.getData().get("demo")), StandardCharsets.UTF_8);
    assertThat(demoKey).as("the Secret holds a key hash, not a key").matches("sha256:[0-9a-f]{64}");
  }

  private static Path root() {
    return Path.of(System.getProperty("flotilla.repo.root", "..")).toAbsolutePath().normalize();
  }

  private static List<Path> yamlFiles(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(p -> p.toString().matches(".*\\.ya?ml$")).sorted().toList();
    }
  }
}
