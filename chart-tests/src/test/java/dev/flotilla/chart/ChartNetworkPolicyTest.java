package dev.flotilla.chart;

import static dev.flotilla.chart.FlotillaChart.NAMESPACE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.chart.FlotillaChart.Rendered;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyIngressRule;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The operator's NetworkPolicy (the chart's own namespace) and the settings the operator builds the
 * workers' policies from: only the release's gateways reach the demand stream, the scraper the
 * values name reaches the HTTP port, and networkPolicy.enabled=false leaves them all out.
 */
class ChartNetworkPolicyTest {
  static NetworkPolicyIngressRule onPort(NetworkPolicy policy, int port) {
    return policy.getSpec().getIngress().stream()
        .filter(r -> r.getPorts().stream().anyMatch(p -> p.getPort().equals(new IntOrString(port))))
        .findFirst()
        .orElseThrow();
  }

  static Map<String, String> env(Deployment d) {
    return d.getSpec().getTemplate().getSpec().getContainers().get(0).getEnv().stream()
        .filter(e -> e.getValue() != null)
        .collect(Collectors.toMap(EnvVar::getName, EnvVar::getValue));
  }

  static String labelList(Map<String, String> labels) {
    return new TreeMap<>(labels)
        .entrySet().stream()
            .map(e -> e.getKey() + "=" + e.getValue())
            .collect(Collectors.joining(","));
  }

  @Test
  void onlyTheReleasesGatewaysReachTheDemandStream() {
    Rendered rendered = FlotillaChart.renderDefaults();
    NetworkPolicy policy = rendered.one(NetworkPolicy.class, "flotilla-operator");
    Deployment operator = rendered.one(Deployment.class, "flotilla-operator");
    Deployment gateway = rendered.one(Deployment.class, "flotilla-gateway");

    assertThat(policy.getMetadata().getNamespace()).isEqualTo(NAMESPACE);
    assertThat(policy.getSpec().getPodSelector().getMatchLabels())
        .isEqualTo(operator.getSpec().getSelector().getMatchLabels());
    assertThat(policy.getSpec().getPolicyTypes()).containsExactly("Ingress");
    assertThat(policy.getSpec().getIngress()).hasSize(2);
    assertThat(onPort(policy, 9200).getFrom())
        .singleElement()
        .satisfies(
            peer -> {
              assertThat(peer.getPodSelector().getMatchLabels())
                  .isEqualTo(gateway.getSpec().getSelector().getMatchLabels());
              assertThat(peer.getNamespaceSelector()).as("this namespace only").isNull();
            });
    assertThat(onPort(policy, 8082).getFrom())
        .singleElement()
        .satisfies(
            peer -> {
              assertThat(peer.getNamespaceSelector().getMatchLabels()).isNullOrEmpty();
              assertThat(peer.getPodSelector().getMatchLabels()).isNullOrEmpty();
            });
  }

  @Test
  void theOperatorBuildsWorkerPoliciesForTheSameGatewaysAndScraper() {
    Rendered rendered = FlotillaChart.renderCustom();
    Map<String, String> env = env(rendered.one(Deployment.class, "prod-flotilla-operator"));
    Deployment gateway = rendered.one(Deployment.class, "prod-flotilla-gateway");
    Deployment operator = rendered.one(Deployment.class, "prod-flotilla-operator");
    NetworkPolicy policy = rendered.one(NetworkPolicy.class, "prod-flotilla-operator");

    assertThat(env)
        .containsEntry("FLOTILLA_OPERATOR_NETWORK_POLICIES_ENABLED", "true")
        .containsEntry(
            "FLOTILLA_OPERATOR_NETWORK_POLICIES_OPERATOR_POD_LABELS",
            labelList(operator.getSpec().getSelector().getMatchLabels()))
        .containsEntry(
            "FLOTILLA_OPERATOR_NETWORK_POLICIES_GATEWAY_POD_LABELS",
            labelList(gateway.getSpec().getSelector().getMatchLabels()))
        .containsEntry(
            "FLOTILLA_OPERATOR_NETWORK_POLICIES_METRICS_NAMESPACE_LABELS",
            "kubernetes.io/metadata.name=monitoring")
        .containsEntry(
            "FLOTILLA_OPERATOR_NETWORK_POLICIES_METRICS_POD_LABELS",
            "app.kubernetes.io/name=prometheus");
    assertThat(onPort(policy, 8082).getFrom())
        .singleElement()
        .satisfies(
            peer -> {
              assertThat(peer.getNamespaceSelector().getMatchLabels())
                  .isEqualTo(Map.of("kubernetes.io/metadata.name", "monitoring"));
              assertThat(peer.getPodSelector().getMatchLabels())
                  .isEqualTo(Map.of("app.kubernetes.io/name", "prometheus"));
            });
  }

  @Test
  void switchedOffThereIsNoneAndTheOperatorMakesNone() {
    Rendered rendered =
        Rendered.parse(
            FlotillaChart.template("flotilla", null, Map.of("networkPolicy.enabled", false)));

    assertThat(rendered.all(NetworkPolicy.class)).isEmpty();
    assertThat(env(rendered.one(Deployment.class, "flotilla-operator")))
        .containsEntry("FLOTILLA_OPERATOR_NETWORK_POLICIES_ENABLED", "false");
  }
}
