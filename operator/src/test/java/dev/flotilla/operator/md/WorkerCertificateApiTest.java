package dev.flotilla.operator.md;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.mtls.Identities;
import dev.flotilla.mtls.Pem;
import dev.flotilla.mtls.TlsFiles;
import dev.flotilla.mtls.ca.CertificateAuthority;
import dev.flotilla.mtls.ca.CertificatePolicy;
import dev.flotilla.operator.Fixtures;
import dev.flotilla.operator.MutableClock;
import dev.flotilla.operator.OperatorHarness;
import dev.flotilla.operator.certs.TlsSecrets;
import dev.flotilla.operator.config.SettingsBuilder;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Each model's workers get a serving certificate for that model, kept current with the CA. */
@EnableKubernetesMockClient(crud = true)
class WorkerCertificateApiTest {
  static final String NS = Fixtures.NAMESPACE;
  static final Duration WAIT = Duration.ofSeconds(20);
  static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

  KubernetesClient client;
  MutableClock clock = new MutableClock(T0);
  OperatorHarness operator;
  CertificateAuthority ca = CertificateAuthority.create(CertificatePolicy.DEFAULT, T0);

  @BeforeEach
  void start() {
    OperatorHarness.installCrds(client);
    client
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
        .create();
    operator = new OperatorHarness(client, SettingsBuilder.defaults().build(), clock, null).start();
  }

  @AfterEach
  void stop() {
    operator.close();
  }

  Secret secret(String model) {
    return client.secrets().inNamespace(NS).withName(model + "-worker-mtls").get();
  }

  static X509Certificate leaf(Secret secret) throws Exception {
    return Pem.certificates(TlsSecrets.pem(secret).get(TlsFiles.CERTIFICATE)).get(0);
  }

  static List<X509Certificate> bundle(Secret secret) throws Exception {
    return Pem.certificates(TlsSecrets.pem(secret).get(TlsFiles.TRUST_BUNDLE));
  }

  @Test
  void aModelsWorkersGetACertificateForThatModelOnceTheCaIsKnown() throws Exception {
    ModelDeployment md = Fixtures.model("llama", 1, 2);
    client.resource(md).create();
    await().during(Duration.ofSeconds(1)).atMost(WAIT).until(() -> secret("llama") == null);

    operator.ca().set(ca);

    await().atMost(WAIT).until(() -> secret("llama") != null);
    Secret secret = secret("llama");
    X509Certificate leaf = leaf(secret);
    assertThat(Identities.of(leaf)).contains(Identities.worker(NS, "llama"));
    assertThat(leaf.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1"); // serverAuth
    leaf.verify(ca.signingCertificate().getPublicKey());
    assertThat(bundle(secret)).containsExactly(ca.signingCertificate());
    assertThat(secret.getType()).isEqualTo("kubernetes.io/tls");
    assertThat(secret.getMetadata().getLabels())
        .containsEntry("app.kubernetes.io/managed-by", "flotilla-operator")
        .containsEntry("flotilla.dev/model", "llama");
    assertThat(secret.getMetadata().getOwnerReferences())
        .singleElement()
        .satisfies(
            o -> {
              assertThat(o.getKind()).isEqualTo("ModelDeployment");
              assertThat(o.getName()).isEqualTo("llama");
              assertThat(o.getController()).isTrue();
            });
    await()
        .atMost(WAIT)
        .until(
            () ->
                client.v1().events().inNamespace(NS).list().getItems().stream()
                    .map(Event::getReason)
                    .anyMatch("WorkerCertificateIssued"::equals));
  }

  @Test
  void aNewTrustBundleReachesEveryModelAtOnce() throws Exception {
    operator.ca().set(ca);
    client.resource(Fixtures.model("llama", 1, 2)).create();
    client.resource(Fixtures.model("mistral", 1, 2)).create();
    await().atMost(WAIT).until(() -> secret("llama") != null && secret("mistral") != null);

    Instant twoThirds = CertificateAuthority.renewAt(ca.signingCertificate());
    CertificateAuthority successorTrusted = ca.rotate(twoThirds);
    clock.advance(Duration.between(T0, twoThirds));
    operator.ca().set(successorTrusted);

    for (String model : List.of("llama", "mistral")) {
      await()
          .atMost(WAIT)
          .untilAsserted(
              () ->
                  assertThat(bundle(secret(model)))
                      .containsExactlyElementsOf(successorTrusted.trustBundle()));
    }
  }

  @Test
  void aDeletedCertificateIsIssuedAgain() throws Exception {
    operator.ca().set(ca);
    client.resource(Fixtures.model("llama", 1, 2)).create();
    await().atMost(WAIT).until(() -> secret("llama") != null);
    X509Certificate first = leaf(secret("llama"));

    client.secrets().inNamespace(NS).withName("llama-worker-mtls").delete();

    await()
        .atMost(WAIT)
        .until(
            () ->
                secret("llama") != null
                    && !leaf(secret("llama")).getSerialNumber().equals(first.getSerialNumber()));
  }
}
