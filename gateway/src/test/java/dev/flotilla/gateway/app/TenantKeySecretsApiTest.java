package dev.flotilla.gateway.app;

import static dev.flotilla.gateway.Fixtures.keySecret;
import static dev.flotilla.gateway.Fixtures.sha256Entry;
import static dev.flotilla.gateway.Fixtures.unlabelledSecret;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.flotilla.api.crd.SecretKeyReference;
import dev.flotilla.api.crd.Tenant;
import dev.flotilla.api.crd.TenantSpec;
import dev.flotilla.gateway.auth.TenantDirectory;
import dev.flotilla.gateway.catalog.ModelCatalog;
import dev.flotilla.gateway.route.WorkerRegistry;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The gateway holds only the Secrets it needs: those labelled {@code flotilla.dev/tenant-keys=true}
 * in the namespaces it is told to watch. A Tenant that names any other Secret gets no keys from it,
 * and the cluster's other Secrets never reach the gateway's memory.
 */
@EnableKubernetesMockClient(crud = true)
class TenantKeySecretsApiTest {
  static final String LABELLED_KEY = "flk_labelled";
  static final String UNLABELLED_KEY = "flk_unlabelled";
  static final String ELSEWHERE_KEY = "flk_elsewhere";

  KubernetesClient client;
  KubernetesInformers informers;
  final TenantDirectory directory = new TenantDirectory();

  @AfterEach
  void stop() {
    informers.stop();
  }

  @Test
  void onlyLabelledSecretsInTheListedNamespacesAreCached() throws Exception {
    client.resource(keySecret("tenants", "labelled", "k", sha256Entry(LABELLED_KEY))).create();
    client
        .resource(unlabelledSecret("tenants", "unlabelled", "k", sha256Entry(UNLABELLED_KEY)))
        .create();
    client.resource(keySecret("elsewhere", "labelled", "k", sha256Entry(ELSEWHERE_KEY))).create();
    client
        .resource(unlabelledSecret("tenants", "database-password", "password", "hunter2"))
        .create();
    client
        .resource(
            tenant(
                "acme",
                reference("tenants", "labelled"),
                reference("tenants", "unlabelled"),
                reference("elsewhere", "labelled")))
        .create();

    informers = new KubernetesInformers(client);
    informers.start(
        directory,
        new ModelCatalog(),
        new WorkerRegistry(),
        WorkerDiscoveryApiTest.WORKERS,
        List.of("tenants"));

    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> directory.findByKeyHash(sha256(LABELLED_KEY)).isPresent());
    // A later labelled Secret arrives through the same watch: once it is in, every event the
    // informers were sent before it has been handled.
    client.resource(keySecret("tenants", "marker", "k", sha256Entry("flk_marker"))).create();
    await().atMost(Duration.ofSeconds(10)).until(() -> directory.secretCount() == 2);

    assertThat(informers.cachedSecrets()).containsExactly("tenants/labelled", "tenants/marker");
    assertThat(directory.findByKeyHash(sha256(UNLABELLED_KEY))).isEmpty();
    assertThat(directory.findByKeyHash(sha256(ELSEWHERE_KEY))).isEmpty();
    assertThat(directory.secretCount()).isEqualTo(2);
  }

  @Test
  void withoutListedNamespacesLabelledSecretsAreWatchedEverywhere() throws Exception {
    client.resource(keySecret("elsewhere", "labelled", "k", sha256Entry(ELSEWHERE_KEY))).create();
    client
        .resource(unlabelledSecret("tenants", "unlabelled", "k", sha256Entry(UNLABELLED_KEY)))
        .create();
    client
        .resource(
            tenant("acme", reference("elsewhere", "labelled"), reference("tenants", "unlabelled")))
        .create();

    informers = new KubernetesInformers(client);
    informers.start(
        directory,
        new ModelCatalog(),
        new WorkerRegistry(),
        WorkerDiscoveryApiTest.WORKERS,
        List.of());

    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> directory.findByKeyHash(sha256(ELSEWHERE_KEY)).isPresent());
    assertThat(informers.cachedSecrets()).containsExactly("elsewhere/labelled");
    assertThat(directory.findByKeyHash(sha256(UNLABELLED_KEY))).isEmpty();
  }

  static SecretKeyReference reference(String namespace, String name) {
    SecretKeyReference ref = new SecretKeyReference();
    ref.setNamespace(namespace);
    ref.setName(name);
    return ref;
  }

  static Tenant tenant(String name, SecretKeyReference... refs) {
    Tenant t = new Tenant();
    t.setMetadata(new ObjectMetaBuilder().withName(name).build());
    TenantSpec spec = new TenantSpec();
    spec.setApiKeySecrets(List.of(refs));
    spec.setAllowedModels(List.of("*"));
    t.setSpec(spec);
    return t;
  }

  static byte[] sha256(String key) throws NoSuchAlgorithmException {
    return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
  }
}
