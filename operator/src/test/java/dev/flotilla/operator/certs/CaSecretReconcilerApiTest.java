package dev.flotilla.operator.certs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.mtls.Identities;
import dev.flotilla.mtls.Pem;
import dev.flotilla.mtls.TlsFiles;
import dev.flotilla.mtls.ca.CertificateAuthority;
import dev.flotilla.operator.MutableClock;
import dev.flotilla.operator.config.OperatorSettings;
import dev.flotilla.operator.config.SettingsBuilder;
import dev.flotilla.operator.leader.Leadership;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import org.junit.jupiter.api.Test;

/** The CA and the control plane's certificates, kept by the leader in the operator's namespace. */
@EnableKubernetesMockClient(crud = true)
class CaSecretReconcilerApiTest {
  static final String NS = "flotilla-system";
  static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

  KubernetesClient client;
  MutableClock clock = new MutableClock(T0);
  OperatorSettings settings = SettingsBuilder.defaults().namespace(NS).build();
  CurrentCa current = new CurrentCa();

  CaSecretReconciler reconciler(Leadership leadership, CurrentCa ca) {
    return new CaSecretReconciler(client, settings, leadership, ca, clock);
  }

  Secret secret(String name) {
    return client.secrets().inNamespace(NS).withName(name).get();
  }

  X509Certificate leaf(String secret) throws Exception {
    return Pem.certificates(TlsSecrets.pem(secret(secret)).get(TlsFiles.CERTIFICATE)).get(0);
  }

  List<X509Certificate> bundle(String secret) throws Exception {
    return Pem.certificates(TlsSecrets.pem(secret(secret)).get(TlsFiles.TRUST_BUNDLE));
  }

  CertificateAuthority storedCa() throws Exception {
    return CertificateAuthority.fromSecretData(
        CaSecretReconciler.policy(settings.mtls()), TlsSecrets.pem(secret("flotilla-ca")));
  }

  @Test
  void theFirstPassCreatesTheCaAndIssuesTheGatewayAndOperatorCertificates() throws Exception {
    Optional<Instant> due = reconciler(Leadership.alone(), current).reconcile();

    CertificateAuthority ca = storedCa();
    assertThat(current.get().orElseThrow().signingCertificate()).isEqualTo(ca.signingCertificate());
    assertThat(secret("flotilla-ca").getType()).isEqualTo("Opaque");
    X509Certificate gateway = leaf("flotilla-gateway-mtls");
    assertThat(Identities.of(gateway)).contains(Identities.GATEWAY);
    assertThat(gateway.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.2");
    gateway.verify(ca.signingCertificate().getPublicKey());
    X509Certificate operator = leaf("flotilla-operator-mtls");
    assertThat(Identities.of(operator)).contains(Identities.OPERATOR);
    assertThat(operator.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1");
    assertThat(secret("flotilla-operator-mtls").getType()).isEqualTo("kubernetes.io/tls");
    assertThat(bundle("flotilla-gateway-mtls")).containsExactly(ca.signingCertificate());
    // Next due: the workload certificates, at two thirds of 30 days.
    assertThat(due).contains(CertificateAuthority.renewAt(gateway));
  }

  @Test
  void aPassWithNothingDueWritesNothing() {
    CaSecretReconciler leader = reconciler(Leadership.alone(), current);
    leader.reconcile();
    List<String> versions = versions();
    clock.advance(Duration.ofDays(19));

    leader.reconcile();

    assertThat(versions()).isEqualTo(versions);
  }

  List<String> versions() {
    List<String> out = new ArrayList<>();
    for (String name : List.of("flotilla-ca", "flotilla-gateway-mtls", "flotilla-operator-mtls")) {
      out.add(secret(name).getMetadata().getResourceVersion());
    }
    return out;
  }

  @Test
  void aStandbyWritesNothingAndForgetsWhatItKnew() {
    current.set(CertificateAuthority.create(CaSecretReconciler.policy(settings.mtls()), T0));

    assertThat(reconciler(Leadership.elected(), current).reconcile()).isEmpty();

    assertThat(client.secrets().inNamespace(NS).list().getItems()).isEmpty();
    assertThat(current.get()).isEmpty();
  }

  @Test
  void twoReplicasThatBothBelieveTheyLeadEndWithOneCa() throws Exception {
    CurrentCa otherView = new CurrentCa();
    CaSecretReconciler one = reconciler(Leadership.alone(), current);
    CaSecretReconciler two = reconciler(Leadership.alone(), otherView);
    CyclicBarrier start = new CyclicBarrier(2);
    CompletableFuture<?> a = CompletableFuture.runAsync(() -> race(start, one));
    CompletableFuture<?> b = CompletableFuture.runAsync(() -> race(start, two));
    a.join();
    b.join();

    one.reconcile();
    two.reconcile();

    X509Certificate stored = storedCa().signingCertificate();
    assertThat(current.get().orElseThrow().signingCertificate()).isEqualTo(stored);
    assertThat(otherView.get().orElseThrow().signingCertificate()).isEqualTo(stored);
    leaf("flotilla-gateway-mtls").verify(stored.getPublicKey());
    leaf("flotilla-operator-mtls").verify(stored.getPublicKey());
  }

  private static void race(CyclicBarrier start, CaSecretReconciler reconciler) {
    try {
      start.await();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
    reconciler.reconcile();
  }

  @Test
  void aWorkloadCertificateIsRenewedAtTwoThirdsOfItsLife() throws Exception {
    CaSecretReconciler leader = reconciler(Leadership.alone(), current);
    leader.reconcile();
    X509Certificate first = leaf("flotilla-gateway-mtls");

    clock.advance(Duration.ofDays(20));
    leader.reconcile();

    X509Certificate renewed = leaf("flotilla-gateway-mtls");
    assertThat(renewed.getSerialNumber()).isNotEqualTo(first.getSerialNumber());
    assertThat(renewed.getNotBefore().toInstant()).isAfter(T0.plus(Duration.ofDays(19)));
  }

  @Test
  void theCaRotatesInStepsAndTheCertificatesFollow() throws Exception {
    CaSecretReconciler leader = reconciler(Leadership.alone(), current);
    leader.reconcile();
    X509Certificate oldCa = storedCa().signingCertificate();

    // Two thirds into the CA's life: a successor joins every bundle; the old CA still signs.
    clock.advance(Duration.between(T0, CertificateAuthority.renewAt(oldCa)));
    leader.reconcile();
    X509Certificate newCa = storedCa().nextCertificate().orElseThrow();
    assertThat(bundle("flotilla-gateway-mtls")).containsExactly(oldCa, newCa);
    assertThat(bundle("flotilla-operator-mtls")).containsExactly(oldCa, newCa);
    leaf("flotilla-gateway-mtls").verify(oldCa.getPublicKey());

    // After the propagation hour the successor signs, and both certificates come from it.
    clock.advance(Duration.ofHours(1));
    leader.reconcile();
    assertThat(storedCa().signingCertificate()).isEqualTo(newCa);
    leaf("flotilla-gateway-mtls").verify(newCa.getPublicKey());
    leaf("flotilla-operator-mtls").verify(newCa.getPublicKey());
    assertThat(bundle("flotilla-gateway-mtls")).containsExactly(oldCa, newCa);

    // The old CA leaves the bundles when it expires.
    clock.advance(Duration.between(clock.instant(), oldCa.getNotAfter().toInstant()));
    leader.reconcile();
    assertThat(bundle("flotilla-gateway-mtls")).containsExactly(newCa);
    assertThat(current.get().orElseThrow().trustBundle()).containsExactly(newCa);
  }

  @Test
  void aCaSecretThatCannotBeReadIsNeverReplaced() {
    client
        .secrets()
        .inNamespace(NS)
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("flotilla-ca")
                .endMetadata()
                .withData(
                    Map.of("tls.crt", Base64.getEncoder().encodeToString("garbage".getBytes())))
                .build())
        .create();

    assertThat(reconciler(Leadership.alone(), current).reconcile()).isEmpty();

    assertThat(TlsSecrets.pem(secret("flotilla-ca"))).containsEntry("tls.crt", "garbage");
    assertThat(secret("flotilla-gateway-mtls")).isNull();
  }
}
