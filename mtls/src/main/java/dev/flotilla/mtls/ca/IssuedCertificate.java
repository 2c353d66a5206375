package dev.flotilla.mtls.ca;

import dev.flotilla.mtls.Pem;
import dev.flotilla.mtls.TlsFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A workload's certificate, its private key and the trust bundle it goes out with: what one TLS
 * Secret holds.
 */
public record IssuedCertificate(
    X509Certificate certificate, PrivateKey privateKey, List<X509Certificate> trustBundle) {
  public IssuedCertificate {
    trustBundle = List.copyOf(trustBundle);
  }

  /** The Secret's data as PEM text, under the names a TLS Secret volume mounts. */
  public Map<String, String> toSecretData() {
    Map<String, String> data = new LinkedHashMap<>();
    data.put(TlsFiles.CERTIFICATE, Pem.encode(certificate));
    data.put(TlsFiles.PRIVATE_KEY, Pem.encode(privateKey));
    data.put(TlsFiles.TRUST_BUNDLE, Pem.encode(trustBundle));
    return data;
  }

  /**
   * Writes the three files into {@code files}' directory, key first, the way tests and tools lay
   * out a Secret volume. (A kubelet swaps the whole directory at once.)
   */
  public void writeTo(TlsFiles files) throws IOException {
    Files.createDirectories(files.dir());
    Map<String, String> data = toSecretData();
    Files.writeString(files.privateKey(), data.get(TlsFiles.PRIVATE_KEY));
    Files.writeString(files.certificate(), data.get(TlsFiles.CERTIFICATE));
    Files.writeString(files.trustBundle(), data.get(TlsFiles.TRUST_BUNDLE));
  }
}
