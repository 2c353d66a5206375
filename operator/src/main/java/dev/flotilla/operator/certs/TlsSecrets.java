package dev.flotilla.operator.certs;

import dev.flotilla.mtls.Pem;
import dev.flotilla.mtls.TlsFiles;
import dev.flotilla.mtls.ca.CertificateAuthority;
import dev.flotilla.mtls.ca.IssuedCertificate;
import dev.flotilla.operator.FlotillaNames;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The Secrets that carry the internal CA and the certificates it issues, and the PEM text in them.
 * Pure: the reconcilers write what this returns.
 */
public final class TlsSecrets {
  /** Kubernetes' type for a certificate and its key under tls.crt and tls.key. */
  public static final String TLS_TYPE = "kubernetes.io/tls";

  /** {@code app.kubernetes.io/component} of the CA and the control plane's TLS Secrets. */
  public static final String COMPONENT_LABEL = "app.kubernetes.io/component";

  private TlsSecrets() {}

  /** The CA Secret: every generation with its key, and the trust bundle. */
  public static Secret ca(String namespace, String name, CertificateAuthority ca) {
    return new SecretBuilder()
        .withNewMetadata()
        .withNamespace(namespace)
        .withName(name)
        .withLabels(controlPlaneLabels("ca"))
        .endMetadata()
        .withType("Opaque")
        .withData(encode(ca.toSecretData()))
        .build();
  }

  /** A workload's TLS Secret: its certificate, its key and the trust bundle. */
  public static Secret workload(ObjectMeta metadata, IssuedCertificate issued) {
    return new SecretBuilder()
        .withMetadata(metadata)
        .withType(TLS_TYPE)
        .withData(encode(issued.toSecretData()))
        .build();
  }

  /** The labels of the CA and the gateway's and operator's TLS Secrets. */
  public static Map<String, String> controlPlaneLabels(String component) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(FlotillaNames.LABEL_MANAGED_BY, FlotillaNames.MANAGED_BY);
    labels.put(COMPONENT_LABEL, component);
    return labels;
  }

  /** A Secret's data as text (PEM), by key; empty for none. */
  public static Map<String, String> pem(Secret secret) {
    Map<String, String> out = new LinkedHashMap<>();
    if (secret == null || secret.getData() == null) {
      return out;
    }
    secret
        .getData()
        .forEach(
            (k, v) -> {
              try {
                out.put(k, new String(Base64.getDecoder().decode(v), StandardCharsets.US_ASCII));
              } catch (IllegalArgumentException e) {
                // not base64: left out, so the certificate counts as missing and is issued again
              }
            });
    return out;
  }

  /**
   * The leaf certificate in TLS Secret data that {@link CertificateAuthority#renewalReason} passed.
   */
  public static X509Certificate certificate(Map<String, String> pem) {
    try {
      return Pem.certificates(pem.get(TlsFiles.CERTIFICATE)).get(0);
    } catch (GeneralSecurityException | RuntimeException e) {
      throw new IllegalStateException("a certificate that passed its check cannot be read", e);
    }
  }

  private static Map<String, String> encode(Map<String, String> pem) {
    Map<String, String> data = new LinkedHashMap<>();
    pem.forEach(
        (k, v) ->
            data.put(k, Base64.getEncoder().encodeToString(v.getBytes(StandardCharsets.US_ASCII))));
    return data;
  }
}
