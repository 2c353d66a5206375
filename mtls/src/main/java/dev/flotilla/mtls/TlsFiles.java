package dev.flotilla.mtls;

import java.nio.file.Path;

/**
 * A directory holding a workload's TLS material under the file names of a Kubernetes TLS Secret, as
 * a Secret volume mounts them: its certificate chain, its private key and the CAs it trusts.
 */
public record TlsFiles(Path dir) {
  /** The workload's certificate (PEM), leaf first. */
  public static final String CERTIFICATE = "tls.crt";

  /** Its private key (PEM, PKCS#8). */
  public static final String PRIVATE_KEY = "tls.key";

  /** The trust bundle (PEM): every CA whose certificates peers may present. */
  public static final String TRUST_BUNDLE = "ca.crt";

  public Path certificate() {
    return dir.resolve(CERTIFICATE);
  }

  public Path privateKey() {
    return dir.resolve(PRIVATE_KEY);
  }

  public Path trustBundle() {
    return dir.resolve(TRUST_BUNDLE);
  }
}
