package dev.flotilla.operator.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.operator.Fixtures;
import dev.flotilla.operator.config.SettingsBuilder;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyIngressRule;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WorkerNetworkPolicyModelTest {
  static ModelDeployment md() {
    return Fixtures.model("llama", 1, 2);
  }

  static NetworkPolicy policy(String metricsNamespaces, String metricsPods) {
    return WorkerNetworkPolicyModel.of(
        md(),
        SettingsBuilder.defaults()
            .namespace("flotilla-system")
            .networkPolicies(metricsNamespaces, metricsPods)
            .build());
  }

  static NetworkPolicyIngressRule onPort(NetworkPolicy policy, int port) {
    return policy.getSpec().getIngress().stream()
        .filter(r -> r.getPorts().stream().anyMatch(p -> p.getPort().equals(new IntOrString(port))))
        .findFirst()
        .orElseThrow();
  }

  @Test
  void itGuardsExactlyTheModelsWorkerPodsForIngress() {
    NetworkPolicy policy = policy(null, null);

    assertThat(policy.getMetadata().getName()).isEqualTo("llama-worker");
    assertThat(policy.getMetadata().getNamespace()).isEqualTo(Fixtures.NAMESPACE);
    assertThat(policy.getSpec().getPodSelector().getMatchLabels())
        .isEqualTo(
            Map.of(
                "app.kubernetes.io/name", "flotilla-worker",
                "app.kubernetes.io/instance", "llama",
                "flotilla.dev/model", "llama"));
    assertThat(policy.getSpec().getPolicyTypes()).containsExactly("Ingress");
    assertThat(policy.getSpec().getIngress()).hasSize(2);
    assertThat(policy.getMetadata().getOwnerReferences())
        .singleElement()
        .satisfies(
            o -> {
              assertThat(o.getKind()).isEqualTo("ModelDeployment");
              assertThat(o.getName()).isEqualTo("llama");
              assertThat(o.getController()).isTrue();
            });
  }

  @Test
  void onlyGatewayPodsOfTheOperatorsNamespaceReachGrpc() {
    NetworkPolicyIngressRule grpc = onPort(policy(null, null), 9100);

    assertThat(grpc.getPorts())
        .singleElement()
        .satisfies(p -> assertThat(p.getProtocol()).isEqualTo("TCP"));
    assertThat(grpc.getFrom())
        .singleElement()
        .satisfies(
            peer -> {
              assertThat(peer.getNamespaceSelector().getMatchLabels())
                  .isEqualTo(Map.of("kubernetes.io/metadata.name", "flotilla-system"));
              assertThat(peer.getPodSelector().getMatchLabels())
                  .isEqualTo(
                      Map.of(
                          "app.kubernetes.io/name", "flotilla",
                          "app.kubernetes.io/component", "gateway"));
              assertThat(peer.getIpBlock()).isNull();
            });
  }

  @Test
  void theHttpPortAdmitsTheMetricsScraperTheSettingsName() {
    NetworkPolicyIngressRule http =
        onPort(policy("kubernetes.io/metadata.name=monitoring", "app=prometheus"), 8081);

    assertThat(http.getFrom()).hasSize(2);
    assertThat(http.getFrom().get(0).getNamespaceSelector().getMatchLabels())
        .isEqualTo(Map.of("kubernetes.io/metadata.name", "monitoring"));
    assertThat(http.getFrom().get(0).getPodSelector().getMatchLabels())
        .isEqualTo(Map.of("app", "prometheus"));
  }

  @Test
  void theOperatorReachesTheHttpPortToReadLoadingProgress() {
    NetworkPolicy policy = policy("kubernetes.io/metadata.name=monitoring", "app=prometheus");
    NetworkPolicyIngressRule http = onPort(policy, 8081);

    assertThat(http.getFrom().get(1).getNamespaceSelector().getMatchLabels())
        .isEqualTo(Map.of("kubernetes.io/metadata.name", "flotilla-system"));
    assertThat(http.getFrom().get(1).getPodSelector().getMatchLabels())
        .isEqualTo(
            Map.of(
                "app.kubernetes.io/name", "flotilla",
                "app.kubernetes.io/component", "operator"));
  }

  @Test
  void withoutAScraperSelectorEveryPodMayReachTheHttpPort() {
    NetworkPolicyIngressRule http = onPort(policy(null, null), 8081);

    assertThat(http.getFrom().get(0).getNamespaceSelector().getMatchLabels()).isEmpty();
    assertThat(http.getFrom().get(0).getPodSelector().getMatchLabels()).isEmpty();
  }
}
