package dev.flotilla.gateway.auth;

import dev.flotilla.api.crd.SecretKeyReference;
import dev.flotilla.api.crd.Tenant;
import io.fabric8.kubernetes.api.model.Secret;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * Tenants and their API-key hashes, kept current by informer events (no API call per request).
 *
 * <p>Every change rebuilds an immutable index that readers see through one volatile field. The
 * index buckets key hashes by their first 8 bytes and compares the full 32 bytes with {@link
 * MessageDigest#isEqual}, so a lookup's timing does not depend on how much of a stored hash a
 * presented key matches.
 */
public final class TenantDirectory {
  private static final Logger LOG = Logger.getLogger(TenantDirectory.class);
  private static final Pattern HASH = Pattern.compile("sha256:([0-9a-fA-F]{64})");

  private record KeyHash(byte[] sha256, String tenant) {}

  private record Index(Map<String, TenantInfo> tenants, Map<Long, List<KeyHash>> keys) {}

  private final Map<String, Tenant> tenants = new ConcurrentHashMap<>();
  private final Map<String, Secret> secrets = new ConcurrentHashMap<>();
  private volatile Index index = new Index(Map.of(), Map.of());

  public void onTenant(Tenant tenant) {
    tenants.put(tenant.getMetadata().getName(), tenant);
    rebuild();
  }

  public void onTenantDeleted(String name) {
    tenants.remove(name);
    rebuild();
  }

  /**
   * Keeps the Secret only while it carries {@link SecretKeyReference#LABEL}: the informers already
   * ask the API server for labelled Secrets alone, and this holds whatever feeds the directory to
   * the same rule, so an unlabelled Secret is neither kept nor used even when a Tenant names it.
   */
  public void onSecret(Secret secret) {
    String key = secretKey(secret.getMetadata().getNamespace(), secret.getMetadata().getName());
    if (isKeySecret(secret)) {
      secrets.put(key, secret);
    } else {
      secrets.remove(key);
    }
    rebuild();
  }

  /** Whether the Secret carries the API-key label. */
  public static boolean isKeySecret(Secret secret) {
    Map<String, String> labels = secret.getMetadata().getLabels();
    return labels != null
        && SecretKeyReference.LABEL_VALUE.equals(labels.get(SecretKeyReference.LABEL));
  }

  /** Number of Secrets held, whether or not a Tenant names them. */
  public int secretCount() {
    return secrets.size();
  }

  public void onSecretDeleted(String namespace, String name) {
    secrets.remove(secretKey(namespace, name));
    rebuild();
  }

  public Optional<TenantInfo> tenant(String name) {
    return Optional.ofNullable(index.tenants().get(name));
  }

  /** The tenant whose key hashes to {@code sha256}, if any. */
  public Optional<TenantInfo> findByKeyHash(byte[] sha256) {
    Index idx = index;
    List<KeyHash> bucket = idx.keys().get(prefix(sha256));
    String found = null;
    if (bucket != null) {
      for (KeyHash k : bucket) {
        if (MessageDigest.isEqual(k.sha256(), sha256) && found == null) {
          found = k.tenant();
        }
      }
    }
    return found == null ? Optional.empty() : Optional.ofNullable(idx.tenants().get(found));
  }

  /** Number of valid key hashes across all tenants. */
  public int keyCount() {
    return index.keys().values().stream().mapToInt(List::size).sum();
  }

  private synchronized void rebuild() {
    Map<String, TenantInfo> infos = new HashMap<>();
    Map<Long, List<KeyHash>> keys = new HashMap<>();
    for (Tenant t : tenants.values()) {
      if (t.getSpec() == null) {
        continue;
      }
      TenantInfo info = TenantInfo.from(t);
      infos.put(info.name(), info);
      List<SecretKeyReference> refs = t.getSpec().getApiKeySecrets();
      for (SecretKeyReference ref : refs == null ? List.<SecretKeyReference>of() : refs) {
        Secret s = secrets.get(secretKey(ref.getNamespace(), ref.getName()));
        if (s == null || s.getData() == null) {
          continue;
        }
        for (Map.Entry<String, String> e : s.getData().entrySet()) {
          if (ref.getKey() != null && !ref.getKey().equals(e.getKey())) {
            continue;
          }
          byte[] hash = parseHash(e.getValue());
          if (hash == null) {
            LOG.warnf(
                "Secret %s/%s entry %s of tenant %s is not sha256:<64 hex>; ignored",
                ref.getNamespace(), ref.getName(), e.getKey(), info.name());
            continue;
          }
          keys.computeIfAbsent(prefix(hash), p -> new ArrayList<>())
              .add(new KeyHash(hash, info.name()));
        }
      }
    }
    keys.replaceAll((p, l) -> List.copyOf(l));
    index = new Index(Map.copyOf(infos), Map.copyOf(keys));
  }

  /** Secret data values are base64 in the API; the decoded value is {@code sha256:<hex>}. */
  static byte[] parseHash(String base64Value) {
    String value;
    try {
      value =
          new String(Base64.getDecoder().decode(base64Value.trim()), StandardCharsets.UTF_8).trim();
    } catch (IllegalArgumentException e) {
      return null;
    }
    var m = HASH.matcher(value);
    return m.matches() ? HexFormat.of().parseHex(m.group(1).toLowerCase()) : null;
  }

  private static long prefix(byte[] sha256) {
    return ByteBuffer.wrap(sha256, 0, 8).getLong();
  }

  private static String secretKey(String namespace, String name) {
    return namespace + "/" + name;
  }
}
