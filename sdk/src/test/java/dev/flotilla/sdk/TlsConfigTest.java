package dev.flotilla.sdk;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TlsConfigTest {

  @ParameterizedTest
  @ValueSource(
      strings = {
        "localhost:9000",
        "LOCALHOST:9000",
        "127.0.0.1:9000",
        "127.1.2.3:80",
        "[::1]:9000",
        "::1",
        "dns:///localhost:9000",
        "localhost"
      })
  void autoIsPlaintextForLoopbackTargets(String target) {
    assertThat(TlsConfig.auto().usesTls(target)).isFalse();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "flotilla.example.com:443",
        "10.0.0.7:9000",
        "[2001:db8::1]:443",
        "dns:///flotilla.example.com:443",
        "localhost.example.com:443"
      })
  void autoIsTlsForEveryOtherTarget(String target) {
    assertThat(TlsConfig.auto().usesTls(target)).isTrue();
  }

  @ParameterizedTest
  @ValueSource(strings = {"localhost:9000", "flotilla.example.com:443"})
  void explicitChoicesApplyToAnyTarget(String target) {
    assertThat(TlsConfig.plaintext().usesTls(target)).isFalse();
    assertThat(TlsConfig.systemTrust().usesTls(target)).isTrue();
    assertThat(TlsConfig.trustedCertificates(Path.of("ca.pem")).usesTls(target)).isTrue();
  }
}
