package dev.flotilla.mtls;

import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * Presents the certificate of a {@link ReloadingCredentials}, as it is at each handshake: a renewed
 * certificate is used from the next connection on, with no restart and no new SSL context.
 *
 * <p>The alias a handshake chooses names the credentials' version, and the chain and key are looked
 * up by it, so a reload in the middle of a handshake cannot pair one version's chain with another's
 * key.
 */
public final class ReloadingKeyManager extends X509ExtendedKeyManager {
  private static final String ALIAS_PREFIX = "flotilla-v";

  private final ReloadingCredentials credentials;

  /** The versions handed out recently, by alias; at most a few are ever in use at once. */
  private final Map<String, Credentials> byAlias = new ConcurrentHashMap<>();

  public ReloadingKeyManager(ReloadingCredentials credentials) {
    this.credentials = credentials;
  }

  private String choose(String... keyTypes) {
    Optional<Credentials> now = credentials.current();
    if (now.isEmpty()) {
      return null;
    }
    Credentials c = now.get();
    String algorithm = c.privateKey().getAlgorithm();
    for (String keyType : keyTypes) {
      if (keyType != null && keyType.equalsIgnoreCase(algorithm)) {
        String alias = ALIAS_PREFIX + c.version();
        if (byAlias.putIfAbsent(alias, c) == null) {
          byAlias.keySet().removeIf(a -> !a.equals(alias) && older(a, c.version()));
        }
        return alias;
      }
    }
    return null;
  }

  /** Keeps the version before the current one for handshakes still under way. */
  private static boolean older(String alias, long current) {
    return Long.parseLong(alias.substring(ALIAS_PREFIX.length())) < current - 1;
  }

  @Override
  public String chooseClientAlias(String[] keyTypes, Principal[] issuers, Socket socket) {
    return choose(keyTypes);
  }

  @Override
  public String chooseEngineClientAlias(String[] keyTypes, Principal[] issuers, SSLEngine engine) {
    return choose(keyTypes);
  }

  @Override
  public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
    return choose(keyType);
  }

  @Override
  public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
    return choose(keyType);
  }

  @Override
  public String[] getClientAliases(String keyType, Principal[] issuers) {
    String alias = choose(keyType);
    return alias == null ? null : new String[] {alias};
  }

  @Override
  public String[] getServerAliases(String keyType, Principal[] issuers) {
    return getClientAliases(keyType, issuers);
  }

  @Override
  public X509Certificate[] getCertificateChain(String alias) {
    Credentials c = alias == null ? null : byAlias.get(alias);
    return c == null ? null : c.chain().toArray(X509Certificate[]::new);
  }

  @Override
  public PrivateKey getPrivateKey(String alias) {
    Credentials c = alias == null ? null : byAlias.get(alias);
    return c == null ? null : c.privateKey();
  }
}
