package dev.flotilla.mtls;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * The identities of Flotilla's internal links, as SPIFFE IDs carried in a certificate's URI subject
 * alternative name: the one place they are spelled.
 *
 * <p>A worker's identity names the model it serves, so a gateway that dials a pod address for a
 * model can tell that the answering process was issued a certificate for that model and no other.
 */
public final class Identities {
  public static final String TRUST_DOMAIN = "flotilla.dev";
  private static final String PREFIX = "spiffe://" + TRUST_DOMAIN + "/";

  /** Every gateway replica: the only client workers and the autoscaler accept. */
  public static final String GATEWAY = PREFIX + "gateway";

  /** The operator's demand-stream server (gRPC 9200). */
  public static final String OPERATOR = PREFIX + "operator";

  private static final int URI_NAME = 6; // GeneralName uniformResourceIdentifier

  private Identities() {}

  /** The workers of the ModelDeployment {@code namespace/model}. */
  public static String worker(String namespace, String model) {
    return PREFIX + "worker/" + namespace + "/" + model;
  }

  /** The workers of a model named the way the gateway keys it, {@code namespace/model}. */
  public static String workerOf(String modelKey) {
    int slash = modelKey.indexOf('/');
    if (slash <= 0 || slash == modelKey.length() - 1) {
      throw new IllegalArgumentException("not namespace/model: " + modelKey);
    }
    return worker(modelKey.substring(0, slash), modelKey.substring(slash + 1));
  }

  /**
   * The certificate's identity: its one {@code spiffe://} URI subject alternative name. Empty when
   * it has none or more than one, so a certificate can never stand for two identities.
   */
  public static Optional<String> of(X509Certificate certificate) {
    Collection<List<?>> names;
    try {
      names = certificate.getSubjectAlternativeNames();
    } catch (CertificateParsingException e) {
      return Optional.empty();
    }
    if (names == null) {
      return Optional.empty();
    }
    List<String> spiffe = new ArrayList<>();
    for (List<?> name : names) {
      if (name.size() == 2
          && Integer.valueOf(URI_NAME).equals(name.get(0))
          && name.get(1) instanceof String uri
          && uri.startsWith("spiffe://")) {
        spiffe.add(uri);
      }
    }
    return spiffe.size() == 1 ? Optional.of(spiffe.get(0)) : Optional.empty();
  }
}
