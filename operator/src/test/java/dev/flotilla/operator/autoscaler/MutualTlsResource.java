package dev.flotilla.operator.autoscaler;

import dev.flotilla.mtls.Identities;
import dev.flotilla.mtls.Pem;
import dev.flotilla.mtls.TlsFiles;
import dev.flotilla.mtls.ca.CertificateAuthority;
import dev.flotilla.mtls.ca.CertificatePolicy;
import dev.flotilla.mtls.ca.Usage;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;

/**
 * The operator with mutual TLS on its demand stream, its certificate mounted at {@link #OPERATOR},
 * and beside it what callers might present: the gateway's certificate, one from another CA, and a
 * worker's. Fixed paths, so the test (in another class loader) finds them.
 */
public class MutualTlsResource implements QuarkusTestResourceLifecycleManager {
  static final Path ROOT = Path.of("target", "operator-mtls").toAbsolutePath();
  static final TlsFiles OPERATOR = new TlsFiles(ROOT.resolve("operator"));
  static final TlsFiles GATEWAY = new TlsFiles(ROOT.resolve("gateway"));
  static final TlsFiles OTHER_CA_GATEWAY = new TlsFiles(ROOT.resolve("other-ca-gateway"));
  static final TlsFiles WORKER = new TlsFiles(ROOT.resolve("worker"));

  @Override
  public Map<String, String> start() {
    Instant now = Instant.now();
    CertificateAuthority ca = CertificateAuthority.create(CertificatePolicy.DEFAULT, now);
    try {
      ca.issue(Identities.OPERATOR, Usage.SERVER, now).writeTo(OPERATOR);
      ca.issue(Identities.GATEWAY, Usage.CLIENT, now).writeTo(GATEWAY);
      ca.issue(Identities.worker("default", "llama"), Usage.SERVER, now).writeTo(WORKER);
      CertificateAuthority.create(CertificatePolicy.DEFAULT, now)
          .issue(Identities.GATEWAY, Usage.CLIENT, now)
          .writeTo(OTHER_CA_GATEWAY);
      // It trusts the real CA: only what it presents is wrong.
      Files.writeString(OTHER_CA_GATEWAY.trustBundle(), Pem.encode(ca.trustBundle()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return Map.of(
        "flotilla.operator.mtls.enabled", "true",
        "flotilla.operator.mtls.dir", OPERATOR.dir().toString(),
        "flotilla.operator.mtls.reload-interval", "0s");
  }

  @Override
  public void stop() {}
}
