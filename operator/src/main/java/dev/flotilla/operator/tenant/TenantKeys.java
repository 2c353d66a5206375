package dev.flotilla.operator.tenant;

import dev.flotilla.api.crd.SecretKeyReference;
import io.fabric8.kubernetes.api.model.Secret;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * Checks a tenant's API-key Secrets: each is in a namespace API keys are read from, exists with the
 * label {@link SecretKeyReference#LABEL}, the selected entries exist, and every value is a {@code
 * sha256:<64 hex>} hash. A plain key is refused without repeating it anywhere.
 */
public final class TenantKeys {
  static final Pattern HASH = Pattern.compile("^sha256:[0-9a-f]{64}$");

  /**
   * @param keys valid hashes found; meaningful only when {@code ready}
   */
  public record Check(boolean ready, String reason, String message, int keys) {}

  public static final String SECRET_NOT_FOUND = "SecretNotFound";
  public static final String NAMESPACE_NOT_WATCHED = "SecretNamespaceNotWatched";
  public static final String KEY_NOT_FOUND = "KeyNotFound";
  public static final String NOT_A_HASH = "NotAHash";
  public static final String NO_KEYS = "NoApiKeys";
  public static final String KEYS_FOUND = "ApiKeysFound";

  private TenantKeys() {}

  /**
   * @param lookup the labelled Secret a reference names, or null
   * @param namespaces where API-key Secrets are read from; empty: every namespace
   */
  public static Check check(
      List<SecretKeyReference> refs,
      Function<SecretKeyReference, Secret> lookup,
      List<String> namespaces) {
    if (refs == null || refs.isEmpty()) {
      return new Check(false, NO_KEYS, "spec.apiKeySecrets names no Secret", 0);
    }
    int keys = 0;
    for (SecretKeyReference ref : refs) {
      String where = ref.getNamespace() + "/" + ref.getName();
      if (!namespaces.isEmpty() && !namespaces.contains(ref.getNamespace())) {
        return new Check(
            false,
            NAMESPACE_NOT_WATCHED,
            "Secret "
                + where
                + " is outside the namespaces API keys are read from ("
                + String.join(", ", namespaces)
                + "; the chart's tenantSecretNamespaces)",
            0);
      }
      Secret secret = lookup.apply(ref);
      if (secret == null) {
        return new Check(
            false,
            SECRET_NOT_FOUND,
            "Secret "
                + where
                + " does not exist or lacks the label "
                + SecretKeyReference.LABEL_SELECTOR,
            0);
      }
      Map<String, String> values = values(secret);
      if (ref.getKey() != null) {
        if (!values.containsKey(ref.getKey())) {
          return new Check(
              false, KEY_NOT_FOUND, "Secret " + where + " has no entry " + ref.getKey(), 0);
        }
        values = Map.of(ref.getKey(), values.get(ref.getKey()));
      }
      for (Map.Entry<String, String> entry : values.entrySet()) {
        if (!HASH.matcher(entry.getValue().trim()).matches()) {
          return new Check(
              false,
              NOT_A_HASH,
              "Secret "
                  + where
                  + " entry "
                  + entry.getKey()
                  + " is not sha256:<64 lowercase hex digits>; store the key's hash, never the key",
              0);
        }
        keys++;
      }
    }
    if (keys == 0) {
      return new Check(false, NO_KEYS, "the referenced Secrets hold no API-key hashes", 0);
    }
    return new Check(
        true, KEYS_FOUND, keys + " API-key hashes in " + refs.size() + " Secrets", keys);
  }

  /**
   * The Secret's entries as text: {@code data} is base64, {@code stringData} (unsubmitted objects)
   * is plain.
   */
  static Map<String, String> values(Secret secret) {
    Map<String, String> values = new LinkedHashMap<>();
    if (secret.getData() != null) {
      secret.getData().forEach((k, v) -> values.put(k, decode(v)));
    }
    if (secret.getStringData() != null) {
      values.putAll(secret.getStringData());
    }
    return values;
  }

  private static String decode(String base64) {
    try {
      return new String(Base64.getDecoder().decode(base64.trim()), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      return "";
    }
  }
}
