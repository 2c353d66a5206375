package dev.flotilla.operator.md;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.flotilla.operator.Fixtures;
import dev.flotilla.operator.MutableClock;
import dev.flotilla.operator.OperatorHarness;
import dev.flotilla.operator.config.SettingsBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The NetworkPolicy next to each model's workers: made when enabled, removed when switched off. */
@EnableKubernetesMockClient(crud = true)
class WorkerNetworkPolicyApiTest {
  static final String NS = Fixtures.NAMESPACE;
  static final Duration WAIT = Duration.ofSeconds(20);

  KubernetesClient client;
  MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));

  @BeforeEach
  void namespace() {
    OperatorHarness.installCrds(client);
    client
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
        .create();
  }

  NetworkPolicy policy() {
    return client.network().v1().networkPolicies().inNamespace(NS).withName("llama-worker").get();
  }

  @Test
  void eachModelGetsItsPolicyAndLosesItWhenPoliciesAreSwitchedOff() {
    try (OperatorHarness operator =
        new OperatorHarness(
                client,
                SettingsBuilder.defaults().networkPolicies(null, "app=prometheus").build(),
                clock,
                null)
            .start()) {
      client.resource(Fixtures.model("llama", 1, 2)).create();
      await().atMost(WAIT).until(() -> policy() != null);
      assertThat(policy().getMetadata().getOwnerReferences())
          .singleElement()
          .satisfies(o -> assertThat(o.getName()).isEqualTo("llama"));

      // Changed by hand: brought back.
      NetworkPolicy edited = policy();
      edited.getSpec().setIngress(java.util.List.of());
      client.resource(edited).update();
      await().atMost(WAIT).until(() -> policy().getSpec().getIngress().size() == 2);
    }

    try (OperatorHarness operator =
        new OperatorHarness(client, SettingsBuilder.defaults().build(), clock, null).start()) {
      await().atMost(WAIT).until(() -> policy() == null);
    }
  }
}
