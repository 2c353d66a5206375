package dev.flotilla.mtls.ca;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flotilla.mtls.Identities;
import dev.flotilla.mtls.Pem;
import dev.flotilla.mtls.TlsFiles;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CertificateAuthorityTest {
  static final CertificatePolicy POLICY =
      new CertificatePolicy(Duration.ofDays(300), Duration.ofDays(30), Duration.ofHours(1));
  static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  static final String WORKER = Identities.worker("default", "tiny-llama");

  @Test
  void aWorkloadCertificateNamesOneIdentityForOneUseAndChainsToTheSigningCa() throws Exception {
    CertificateAuthority ca = CertificateAuthority.create(POLICY, T0);

    IssuedCertificate issued = ca.issue(WORKER, Usage.SERVER, T0);

    X509Certificate leaf = issued.certificate();
    assertThat(Identities.of(leaf)).contains(WORKER);
    assertThat(leaf.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1"); // serverAuth
    assertThat(leaf.getBasicConstraints()).isEqualTo(-1); // not a CA
    leaf.verify(ca.signingCertificate().getPublicKey());
    assertThat(leaf.getNotBefore().toInstant()).isEqualTo(T0.minus(Duration.ofMinutes(1)));
    assertThat(leaf.getNotAfter().toInstant()).isEqualTo(T0.plus(Duration.ofDays(30)));
    assertThat(issued.trustBundle()).containsExactly(ca.signingCertificate());
    assertThat(ca.issue(Identities.GATEWAY, Usage.CLIENT, T0).certificate().getExtendedKeyUsage())
        .containsExactly("1.3.6.1.5.5.7.3.2"); // clientAuth
  }

  @Test
  void theCaIsACaForLeavesOnly() {
    X509Certificate root = CertificateAuthority.create(POLICY, T0).signingCertificate();
    assertThat(root.getBasicConstraints()).isZero(); // CA, path length 0
    assertThat(root.getKeyUsage()[5]).isTrue(); // keyCertSign
    assertThat(root.getNotAfter().toInstant()).isEqualTo(T0.plus(Duration.ofDays(300)));
  }

  @Test
  void noCertificateOutlivesTheCaThatSignedIt() {
    Instant late = T0.plus(Duration.ofDays(190)); // before the CA's renewal at day 200
    CertificateAuthority ca = CertificateAuthority.create(POLICY, T0);
    CertificateAuthority old = CertificateAuthority.create(POLICY, T0.minus(Duration.ofDays(290)));

    assertThat(ca.issue(WORKER, Usage.SERVER, late).certificate().getNotAfter().toInstant())
        .isEqualTo(late.plus(Duration.ofDays(30)));
    assertThat(old.issue(WORKER, Usage.SERVER, T0).certificate().getNotAfter())
        .isEqualTo(old.signingCertificate().getNotAfter());
  }

  @Test
  void onlyFlotillaIdentitiesAreIssued() {
    CertificateAuthority ca = CertificateAuthority.create(POLICY, T0);
    assertThatThrownBy(() -> ca.issue("spiffe://example.com/gateway", Usage.CLIENT, T0))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aCaRotatesInTwoStepsAndTheOldOneStaysTrustedUntilItExpires() {
    CertificateAuthority first = CertificateAuthority.create(POLICY, T0);
    X509Certificate oldCa = first.signingCertificate();
    Instant twoThirds = CertificateAuthority.renewAt(oldCa);
    assertThat(first.nextRotation()).isEqualTo(twoThirds);
    assertThat(first.rotate(twoThirds.minusSeconds(1))).isSameAs(first);

    // Step 1: a successor joins the trust bundle, but the old CA still signs.
    CertificateAuthority successorTrusted = first.rotate(twoThirds);
    X509Certificate newCa = successorTrusted.nextCertificate().orElseThrow();
    assertThat(successorTrusted.signingCertificate()).isEqualTo(oldCa);
    assertThat(successorTrusted.trustBundle()).containsExactly(oldCa, newCa);
    assertThat(successorTrusted.rotate(twoThirds.plus(Duration.ofMinutes(30))))
        .isSameAs(successorTrusted);

    // Step 2: once every bundle has had time to update, the successor signs; the old CA retires.
    Instant promoted = successorTrusted.nextRotation();
    assertThat(promoted).isEqualTo(twoThirds.plus(Duration.ofHours(1)));
    CertificateAuthority rotated = successorTrusted.rotate(promoted);
    assertThat(rotated.signingCertificate()).isEqualTo(newCa);
    assertThat(rotated.nextCertificate()).isEmpty();
    assertThat(rotated.retiredCertificates()).containsExactly(oldCa);
    assertThat(rotated.trustBundle()).containsExactly(oldCa, newCa);

    // Step 3: the retired CA leaves the bundle when it expires.
    Instant oldExpiry = oldCa.getNotAfter().toInstant();
    assertThat(rotated.nextRotation()).isEqualTo(oldExpiry);
    CertificateAuthority pruned = rotated.rotate(oldExpiry);
    assertThat(pruned.trustBundle()).containsExactly(newCa);
    assertThat(pruned.nextRotation()).isEqualTo(CertificateAuthority.renewAt(newCa));
  }

  @Test
  void aSigningCaFoundExpiredIsReplacedAtOnce() {
    CertificateAuthority ca = CertificateAuthority.create(POLICY, T0);
    Instant muchLater = T0.plus(Duration.ofDays(400));

    CertificateAuthority replaced = ca.rotate(muchLater);

    assertThat(replaced.signingCertificate().getNotBefore().toInstant())
        .isEqualTo(muchLater.minus(Duration.ofMinutes(1)));
    assertThat(replaced.trustBundle()).containsExactly(replaced.signingCertificate());
  }

  @Test
  void aWorkloadCertificateIsRenewedForEachReasonAndOnlyThen() {
    CertificateAuthority ca = CertificateAuthority.create(POLICY, T0);
    Map<String, String> data = ca.issue(WORKER, Usage.SERVER, T0).toSecretData();

    assertThat(ca.renewalReason(data, WORKER, T0.plus(Duration.ofDays(19)))).isEmpty();
    assertThat(ca.renewalReason(data, WORKER, T0.plus(Duration.ofDays(20))))
        .contains("two thirds of its life have passed");
    assertThat(ca.renewalReason(Map.of(), WORKER, T0)).contains("no certificate yet");
    assertThat(ca.renewalReason(data, Identities.worker("default", "other"), T0))
        .contains("it names another identity");
    Map<String, String> otherKey = new HashMap<>(data);
    otherKey.put(
        TlsFiles.PRIVATE_KEY,
        ca.issue(WORKER, Usage.SERVER, T0).toSecretData().get(TlsFiles.PRIVATE_KEY));
    assertThat(ca.renewalReason(otherKey, WORKER, T0))
        .contains("the private key does not match the certificate");
    Map<String, String> garbage = new HashMap<>(data);
    garbage.put(TlsFiles.CERTIFICATE, "not PEM");
    assertThat(ca.renewalReason(garbage, WORKER, T0)).isPresent();

    Instant twoThirds = CertificateAuthority.renewAt(ca.signingCertificate());
    CertificateAuthority successorTrusted = ca.rotate(twoThirds);
    Map<String, String> fresh = ca.issue(WORKER, Usage.SERVER, twoThirds).toSecretData();
    assertThat(successorTrusted.renewalReason(fresh, WORKER, twoThirds))
        .contains("the trust bundle changed");
    Map<String, String> withBothCas =
        successorTrusted.issue(WORKER, Usage.SERVER, twoThirds).toSecretData();
    CertificateAuthority rotated = successorTrusted.rotate(successorTrusted.nextRotation());
    assertThat(rotated.renewalReason(withBothCas, WORKER, successorTrusted.nextRotation()))
        .contains("the CA that signed it no longer signs (CA rotation)");
  }

  @Test
  void everyGenerationSurvivesTheSecret() throws Exception {
    CertificateAuthority first = CertificateAuthority.create(POLICY, T0);
    CertificateAuthority trusted = first.rotate(first.nextRotation());
    CertificateAuthority rotated = trusted.rotate(trusted.nextRotation());
    CertificateAuthority withNext =
        rotated.rotate(CertificateAuthority.renewAt(rotated.signingCertificate()));

    for (CertificateAuthority ca : List.of(first, trusted, rotated, withNext)) {
      Map<String, String> data = ca.toSecretData();
      CertificateAuthority read = CertificateAuthority.fromSecretData(POLICY, data);
      assertThat(read.signingCertificate()).isEqualTo(ca.signingCertificate());
      assertThat(read.nextCertificate()).isEqualTo(ca.nextCertificate());
      assertThat(read.retiredCertificates()).isEqualTo(ca.retiredCertificates());
      assertThat(data.get(CertificateAuthority.TRUST_BUNDLE))
          .isEqualTo(Pem.encode(ca.trustBundle()));
      assertThat(read.toSecretData()).isEqualTo(data);
    }
    assertThat(rotated.retiredCertificates()).isNotEmpty();
    assertThat(withNext.nextCertificate()).isPresent();
  }

  @Test
  void aPolicyWhoseSuccessorCouldNotSignInTimeIsRefused() {
    assertThatThrownBy(
            () ->
                new CertificatePolicy(Duration.ofDays(30), Duration.ofDays(1), Duration.ofDays(10)))
        .hasMessageContaining("shorter than a third of the CA lifetime");
    assertThatThrownBy(
            () ->
                new CertificatePolicy(
                    Duration.ofDays(30), Duration.ofDays(31), Duration.ofHours(1)))
        .hasMessageContaining("no longer than the CA lifetime");
  }
}
