package dev.flotilla.operator;

import static dev.flotilla.operator.BadInputApiTest.HASH;
import static dev.flotilla.operator.BadInputApiTest.expect;
import static dev.flotilla.operator.BadInputApiTest.keySecret;
import static dev.flotilla.operator.BadInputApiTest.tenant;

import dev.flotilla.api.crd.ConditionTypes;
import dev.flotilla.api.crd.SecretKeyReference;
import dev.flotilla.api.crd.Tenant;
import dev.flotilla.operator.config.SettingsBuilder;
import dev.flotilla.operator.tenant.TenantKeys;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.time.Instant;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * With tenantSecretNamespaces set, the operator reads API-key Secrets there only: a Tenant whose
 * Secret is in a listed namespace becomes Ready, and one whose Secret is elsewhere is told so.
 */
@EnableKubernetesMockClient(crud = true)
class TenantSecretNamespacesApiTest {
  static final String LISTED = BadInputApiTest.NS;

  KubernetesClient client;
  OperatorHarness operator;

  @BeforeEach
  void start() {
    OperatorHarness.installCrds(client);
    for (String ns : List.of(LISTED, "elsewhere")) {
      client
          .namespaces()
          .resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build())
          .create();
    }
    operator =
        new OperatorHarness(
                client,
                SettingsBuilder.defaults().tenantSecretNamespaces(LISTED).build(),
                new MutableClock(Instant.parse("2026-01-01T00:00:00Z")),
                null)
            .start();
  }

  @AfterEach
  void stop() {
    operator.close();
  }

  @Test
  void keysAreReadOnlyFromTheListedNamespaces() {
    client.resource(keySecret("acme-keys", HASH)).create();
    client.resource(tenant("acme", "acme-keys")).create();
    client
        .resource(
            new SecretBuilder(keySecret("globex-keys", HASH))
                .editMetadata()
                .withNamespace("elsewhere")
                .endMetadata()
                .build())
        .create();
    Tenant globex = tenant("globex", "globex-keys");
    SecretKeyReference ref = globex.getSpec().getApiKeySecrets().get(0);
    ref.setNamespace("elsewhere");
    client.resource(globex).create();

    expect(conditions("acme"), ConditionTypes.READY, "True", "ApiKeysFound", null);
    expect(
        conditions("globex"),
        ConditionTypes.READY,
        "False",
        TenantKeys.NAMESPACE_NOT_WATCHED,
        "Secret elsewhere/globex-keys is outside the namespaces API keys are read from ("
            + LISTED
            + "; the chart's tenantSecretNamespaces)");
  }

  Supplier<List<Condition>> conditions(String name) {
    return () -> {
      Tenant t = client.resources(Tenant.class).withName(name).get();
      return t.getStatus() == null ? List.of() : t.getStatus().getConditions();
    };
  }
}
