package dev.flotilla.mtls;

import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * One consistent set of TLS material: a certificate chain, the private key of its leaf and the CAs
 * that peers' certificates must chain to.
 *
 * @param version increases with every change a {@link ReloadingCredentials} sees, so that one
 *     handshake can ask for the chain and the key of the same version
 */
public record Credentials(
    long version,
    List<X509Certificate> chain,
    PrivateKey privateKey,
    List<X509Certificate> trustAnchors) {
  public Credentials {
    chain = List.copyOf(chain);
    trustAnchors = List.copyOf(trustAnchors);
    if (chain.isEmpty()) {
      throw new IllegalArgumentException("no certificate");
    }
    if (trustAnchors.isEmpty()) {
      throw new IllegalArgumentException("no trusted CA");
    }
  }

  public X509Certificate leaf() {
    return chain.get(0);
  }

  /**
   * Whether the private key belongs to the leaf certificate: a signature by the key verifies with
   * the certificate's public key. Secret volumes update files one by one in some setups; a key read
   * next to the previous certificate fails this and is not used.
   */
  public static boolean keyMatches(X509Certificate certificate, PrivateKey key) {
    try {
      String algorithm = "EC".equals(key.getAlgorithm()) ? "SHA256withECDSA" : "SHA256withRSA";
      byte[] challenge = new byte[32];
      new SecureRandom().nextBytes(challenge);
      Signature signer = Signature.getInstance(algorithm);
      signer.initSign(key);
      signer.update(challenge);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(algorithm);
      verifier.initVerify(certificate.getPublicKey());
      verifier.update(challenge);
      return verifier.verify(signature);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  /** Short description for logs: identity, expiry and the number of trusted CAs. */
  public String describe() {
    return Identities.of(leaf()).orElse(leaf().getSubjectX500Principal().getName())
        + " (valid until "
        + leaf().getNotAfter().toInstant()
        + ", "
        + trustAnchors.size()
        + (trustAnchors.size() == 1 ? " trusted CA)" : " trusted CAs)");
  }
}
