package dev.flotilla.operator.md;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.flotilla.api.crd.ConditionTypes;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.mtls.ca.CertificateAuthority;
import dev.flotilla.mtls.ca.CertificatePolicy;
import dev.flotilla.operator.Fixtures;
import dev.flotilla.operator.MutableClock;
import dev.flotilla.operator.OperatorHarness;
import dev.flotilla.operator.config.SettingsBuilder;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * With modelNamespaces set, the operator runs workers for the ModelDeployments there only: one in a
 * listed namespace gets its workers' TLS Secret, one elsewhere gets nothing and a Ready condition
 * naming the setting.
 */
@EnableKubernetesMockClient(crud = true)
class ModelNamespacesApiTest {
  static final String LISTED = Fixtures.NAMESPACE;
  static final String ELSEWHERE = "elsewhere";
  static final Duration WAIT = Duration.ofSeconds(20);
  static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

  KubernetesClient client;
  OperatorHarness operator;

  @BeforeEach
  void start() {
    OperatorHarness.installCrds(client);
    for (String ns : List.of(LISTED, ELSEWHERE)) {
      client
          .namespaces()
          .resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build())
          .create();
    }
    operator =
        new OperatorHarness(
                client,
                SettingsBuilder.defaults().modelNamespaces(LISTED).build(),
                new MutableClock(T0),
                null)
            .start();
    operator.ca().set(CertificateAuthority.create(CertificatePolicy.DEFAULT, T0));
  }

  @AfterEach
  void stop() {
    operator.close();
  }

  @Test
  void onlyModelsInTheListedNamespacesGetWorkers() {
    client.resource(Fixtures.model("llama", 1, 2)).create();
    ModelDeployment outside = Fixtures.model("mistral", 1, 2);
    outside.getMetadata().setNamespace(ELSEWHERE);
    client.resource(outside).create();

    await()
        .atMost(WAIT)
        .untilAsserted(
            () ->
                assertThat(ready(ELSEWHERE, "mistral"))
                    .isNotNull()
                    .satisfies(
                        c -> {
                          assertThat(c.getStatus()).isEqualTo("False");
                          assertThat(c.getReason())
                              .isEqualTo(ModelDeploymentReconciler.NAMESPACE_NOT_MANAGED);
                          assertThat(c.getMessage())
                              .isEqualTo(
                                  "namespace elsewhere is outside the namespaces the operator"
                                      + " runs models in ("
                                      + LISTED
                                      + "; the chart's operator.modelNamespaces)");
                        }));
    await()
        .atMost(WAIT)
        .until(
            () -> client.secrets().inNamespace(LISTED).withName("llama-worker-mtls").get() != null);
    assertThat(client.secrets().inNamespace(ELSEWHERE).list().getItems()).isEmpty();
    assertThat(client.apps().deployments().inNamespace(ELSEWHERE).list().getItems()).isEmpty();
  }

  Condition ready(String namespace, String name) {
    ModelDeployment md =
        client.resources(ModelDeployment.class).inNamespace(namespace).withName(name).get();
    if (md.getStatus() == null || md.getStatus().getConditions() == null) {
      return null;
    }
    return md.getStatus().getConditions().stream()
        .filter(c -> ConditionTypes.READY.equals(c.getType()))
        .findFirst()
        .orElse(null);
  }
}
