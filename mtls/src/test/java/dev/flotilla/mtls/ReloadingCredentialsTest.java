package dev.flotilla.mtls;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.mtls.ca.CertificateAuthority;
import dev.flotilla.mtls.ca.CertificatePolicy;
import dev.flotilla.mtls.ca.IssuedCertificate;
import dev.flotilla.mtls.ca.Usage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReloadingCredentialsTest {
  static final CertificateAuthority CA =
      CertificateAuthority.create(CertificatePolicy.DEFAULT, Instant.now());

  @TempDir Path dir;
  final AtomicLong nanos = new AtomicLong();
  final Duration recheck = Duration.ofSeconds(10);

  ReloadingCredentials credentials() {
    return new ReloadingCredentials(new TlsFiles(dir), recheck, nanos::get);
  }

  static IssuedCertificate gateway() {
    return CA.issue(Identities.GATEWAY, Usage.CLIENT, Instant.now());
  }

  @Test
  void noFilesNoCredentialsUntilTheyAppearThenAtOnce() throws Exception {
    ReloadingCredentials credentials = credentials();
    assertThat(credentials.current()).isEmpty();

    IssuedCertificate issued = gateway();
    issued.writeTo(new TlsFiles(dir));

    Credentials loaded = credentials.current().orElseThrow();
    assertThat(loaded.leaf()).isEqualTo(issued.certificate());
    assertThat(loaded.trustAnchors()).containsExactly(CA.signingCertificate());
  }

  @Test
  void aRenewedCertificateReplacesTheOldOneAtTheNextLook() throws Exception {
    gateway().writeTo(new TlsFiles(dir));
    ReloadingCredentials credentials = credentials();
    Credentials first = credentials.current().orElseThrow();

    IssuedCertificate renewed = gateway();
    renewed.writeTo(new TlsFiles(dir));
    assertThat(credentials.current()).containsSame(first);
    nanos.addAndGet(recheck.toNanos());

    Credentials second = credentials.current().orElseThrow();
    assertThat(second.leaf()).isEqualTo(renewed.certificate());
    assertThat(second.version()).isGreaterThan(first.version());
  }

  @Test
  void aHalfUpdatedDirectoryIsIgnoredAndThePreviousMaterialStays() throws Exception {
    gateway().writeTo(new TlsFiles(dir));
    ReloadingCredentials credentials = credentials();
    Credentials first = credentials.current().orElseThrow();

    IssuedCertificate renewed = gateway();
    Files.writeString(dir.resolve(TlsFiles.CERTIFICATE), renewed.toSecretData().get("tls.crt"));
    nanos.addAndGet(recheck.toNanos());
    assertThat(credentials.current()).containsSame(first);

    Files.writeString(dir.resolve(TlsFiles.PRIVATE_KEY), renewed.toSecretData().get("tls.key"));
    nanos.addAndGet(recheck.toNanos());
    assertThat(credentials.current().orElseThrow().leaf()).isEqualTo(renewed.certificate());
  }
}
