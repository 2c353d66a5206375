package dev.flotilla.worker;

import dev.flotilla.mtls.Identities;
import dev.flotilla.mtls.Pem;
import dev.flotilla.mtls.TlsFiles;
import dev.flotilla.mtls.ca.CertificateAuthority;
import dev.flotilla.mtls.ca.CertificatePolicy;
import dev.flotilla.mtls.ca.Usage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;

/**
 * The tiny-model worker with mutual TLS on, as the operator runs it: a CA, the worker's Secret
 * mounted at {@link #WORKER}, and beside it what callers might present: the gateway's certificate,
 * one from another CA, and a certificate with a worker's identity. Fixed paths, so the test (in
 * another class loader) finds them.
 */
public class MutualTlsResource extends TinyModelResource {
  static final Path ROOT = Path.of("target", "worker-mtls").toAbsolutePath();
  static final String MODEL = "test/tiny";
  static final TlsFiles WORKER = new TlsFiles(ROOT.resolve("worker"));
  static final TlsFiles GATEWAY = new TlsFiles(ROOT.resolve("gateway"));
  static final TlsFiles OTHER_CA_GATEWAY = new TlsFiles(ROOT.resolve("other-ca-gateway"));
  static final TlsFiles OTHER_WORKER_AS_CLIENT = new TlsFiles(ROOT.resolve("other-worker"));

  @Override
  public Map<String, String> start() {
    Instant now = Instant.now();
    CertificateAuthority ca = CertificateAuthority.create(CertificatePolicy.DEFAULT, now);
    CertificateAuthority otherCa = CertificateAuthority.create(CertificatePolicy.DEFAULT, now);
    try {
      ca.issue(Identities.workerOf(MODEL), Usage.SERVER, now).writeTo(WORKER);
      ca.issue(Identities.GATEWAY, Usage.CLIENT, now).writeTo(GATEWAY);
      otherCa.issue(Identities.GATEWAY, Usage.CLIENT, now).writeTo(OTHER_CA_GATEWAY);
      // It trusts the real CA: only what it presents is wrong.
      Files.writeString(OTHER_CA_GATEWAY.trustBundle(), Pem.encode(ca.trustBundle()));
      ca.issue(Identities.worker("test", "other"), Usage.CLIENT, now)
          .writeTo(OTHER_WORKER_AS_CLIENT);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Map<String, String> config = new HashMap<>(super.start());
    config.put("FLOTILLA_MODEL_NAME", MODEL);
    config.put("FLOTILLA_MTLS_ENABLED", "true");
    config.put("FLOTILLA_MTLS_DIR", WORKER.dir().toString());
    return config;
  }
}
