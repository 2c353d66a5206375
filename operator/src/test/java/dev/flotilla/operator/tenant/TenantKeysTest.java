package dev.flotilla.operator.tenant;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.crd.SecretKeyReference;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TenantKeysTest {
  static final String HASH = "sha256:" + "ab".repeat(32);

  static Secret secret(String name, Map<String, String> values) {
    SecretBuilder b =
        new SecretBuilder().withNewMetadata().withName(name).withNamespace("default").endMetadata();
    values.forEach(
        (k, v) ->
            b.addToData(k, Base64.getEncoder().encodeToString(v.getBytes(StandardCharsets.UTF_8))));
    return b.build();
  }

  static SecretKeyReference ref(String name, String key) {
    SecretKeyReference r = new SecretKeyReference();
    r.setNamespace("default");
    r.setName(name);
    r.setKey(key);
    return r;
  }

  @Test
  void countsHashesAcrossSecrets() {
    Map<String, Secret> secrets =
        Map.of(
            "a", secret("a", Map.of("k1", HASH, "k2", HASH)), "b", secret("b", Map.of("x", HASH)));
    TenantKeys.Check check =
        TenantKeys.check(
            List.of(ref("a", null), ref("b", "x")), r -> secrets.get(r.getName()), List.of());
    assertThat(check.ready()).isTrue();
    assertThat(check.keys()).isEqualTo(3);
  }

  @Test
  void aSecretOutsideTheListedNamespacesIsNamedAsSuch() {
    Secret s = secret("a", Map.of("k1", HASH));
    TenantKeys.Check check =
        TenantKeys.check(List.of(ref("a", null)), r -> s, List.of("tenants", "flotilla-system"));
    assertThat(check.ready()).isFalse();
    assertThat(check.reason()).isEqualTo(TenantKeys.NAMESPACE_NOT_WATCHED);
    assertThat(check.message())
        .isEqualTo(
            "Secret default/a is outside the namespaces API keys are read from (tenants,"
                + " flotilla-system; the chart's tenantSecretNamespaces)");
    assertThat(TenantKeys.check(List.of(ref("a", null)), r -> s, List.of("default")).ready())
        .isTrue();
  }

  @Test
  void missingSecretOrKey() {
    assertThat(TenantKeys.check(List.of(ref("nope", null)), r -> null, List.of()).message())
        .isEqualTo(
            "Secret default/nope does not exist or lacks the label flotilla.dev/tenant-keys=true");
    Secret s = secret("a", Map.of("k1", HASH));
    assertThat(TenantKeys.check(List.of(ref("a", "k2")), r -> s, List.of()).reason())
        .isEqualTo(TenantKeys.KEY_NOT_FOUND);
  }

  @Test
  void plainKeysAreRefusedWithoutRepeatingThem() {
    Secret s = secret("a", Map.of("demo", "flk_acme_demo_7f3c9a1e5b2d"));
    TenantKeys.Check check = TenantKeys.check(List.of(ref("a", null)), r -> s, List.of());
    assertThat(check.ready()).isFalse();
    assertThat(check.reason()).isEqualTo(TenantKeys.NOT_A_HASH);
    assertThat(check.message()).contains("entry demo").doesNotContain("flk_acme");
  }
}
