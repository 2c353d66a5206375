package dev.flotilla.mtls;

import java.io.IOException;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Optional;
import java.util.function.Supplier;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * Accepts a peer when its certificate chains to a CA of the current trust bundle (PKIX, with the
 * extended key usage its role needs: clientAuth from a client, serverAuth from a server) and its
 * identity, the one SPIFFE URI it carries, is one the {@link PeerPolicy} accepts.
 *
 * <p>The identity check replaces host-name verification: internal peers are dialled by pod IP, and
 * what matters is not which address answered but what the operator issued it for. So the PKIX check
 * is asked without the socket or engine (which would make the JDK match the host name), and the
 * identity is compared exactly.
 *
 * <p>The trust bundle is read from the {@link ReloadingCredentials} at each handshake: during a CA
 * rotation it holds the old and the new CA, and peers with either are accepted.
 */
public final class IdentityTrustManager extends X509ExtendedTrustManager {
  private final ReloadingCredentials credentials;
  private final Supplier<PeerPolicy> policy;
  private volatile Pkix pkix;

  private record Pkix(long version, X509TrustManager delegate, X509Certificate[] issuers) {}

  public IdentityTrustManager(ReloadingCredentials credentials, PeerPolicy policy) {
    this(credentials, () -> policy);
  }

  /**
   * @param policy read at each handshake, for peers whose expected identity is decided late
   */
  public IdentityTrustManager(ReloadingCredentials credentials, Supplier<PeerPolicy> policy) {
    this.credentials = credentials;
    this.policy = policy;
  }

  private Pkix pkix() throws CertificateException {
    Credentials c =
        credentials
            .current()
            .orElseThrow(
                () ->
                    new CertificateException(
                        "no trust bundle in " + credentials.files().dir() + " yet"));
    Pkix p = pkix;
    if (p != null && p.version() == c.version()) {
      return p;
    }
    try {
      KeyStore anchors = KeyStore.getInstance(KeyStore.getDefaultType());
      anchors.load(null, null);
      int i = 0;
      for (X509Certificate ca : c.trustAnchors()) {
        anchors.setCertificateEntry("ca-" + i++, ca);
      }
      TrustManagerFactory factory =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      factory.init(anchors);
      for (TrustManager tm : factory.getTrustManagers()) {
        if (tm instanceof X509TrustManager x509) {
          p = new Pkix(c.version(), x509, c.trustAnchors().toArray(X509Certificate[]::new));
          pkix = p;
          return p;
        }
      }
    } catch (GeneralSecurityException | IOException e) {
      throw new CertificateException("cannot use the trust bundle: " + e.getMessage(), e);
    }
    throw new CertificateException("the JDK offers no X.509 trust manager");
  }

  private void checkIdentity(X509Certificate[] chain) throws CertificateException {
    PeerPolicy p = policy.get();
    Optional<String> identity = Identities.of(chain[0]);
    if (identity.isEmpty()) {
      throw new CertificateException("the peer's certificate carries no single spiffe:// URI");
    }
    if (!p.accepts().test(identity.get())) {
      throw new CertificateException("the peer is " + identity.get() + ", not " + p.description());
    }
  }

  private static void requireChain(X509Certificate[] chain) throws CertificateException {
    if (chain == null || chain.length == 0) {
      throw new CertificateException("the peer presented no certificate");
    }
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    requireChain(chain);
    pkix().delegate().checkClientTrusted(chain, authType);
    checkIdentity(chain);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    requireChain(chain);
    pkix().delegate().checkServerTrusted(chain, authType);
    checkIdentity(chain);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    checkClientTrusted(chain, authType);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    checkServerTrusted(chain, authType);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    checkClientTrusted(chain, authType);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    checkServerTrusted(chain, authType);
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    try {
      return pkix().issuers().clone();
    } catch (CertificateException e) {
      return new X509Certificate[0];
    }
  }
}
