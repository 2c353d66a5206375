package dev.flotilla.operator.model;

import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.operator.FlotillaNames;
import dev.flotilla.operator.config.OperatorSettings;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeer;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeerBuilder;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The NetworkPolicy next to a model's worker Deployment, computed from the resource and the
 * operator's settings; the reconciler applies it. Ingress only:
 *
 * <ul>
 *   <li>gRPC (9100): gateway pods only, selected by their labels in the operator's namespace
 *       (Kubernetes labels every namespace {@code kubernetes.io/metadata.name});
 *   <li>HTTP (8081, health and metrics): the namespaces and pods the settings name for metrics
 *       scraping, or every pod when they name none, and the operator's pods, which read a loading
 *       model's progress off the readiness check. Kubelet probes come from the node, which
 *       NetworkPolicy enforcement in common CNIs (Calico, Cilium) lets through.
 * </ul>
 *
 * Anything else, other ports included, is refused once a CNI enforces the policy.
 */
public final class WorkerNetworkPolicyModel {
  static final String NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

  private WorkerNetworkPolicyModel() {}

  public static NetworkPolicy of(ModelDeployment md, OperatorSettings settings) {
    String name = md.getMetadata().getName();
    OperatorSettings.NetworkPolicies policies = settings.networkPolicies();
    NetworkPolicyPeer gateways =
        new NetworkPolicyPeerBuilder()
            .withNamespaceSelector(
                new LabelSelectorBuilder()
                    .withMatchLabels(Map.of(NAMESPACE_NAME_LABEL, settings.namespace()))
                    .build())
            .withPodSelector(
                new LabelSelectorBuilder()
                    .withMatchLabels(labels(policies.gatewayPodLabels()))
                    .build())
            .build();
    NetworkPolicyPeer metrics =
        new NetworkPolicyPeerBuilder()
            .withNamespaceSelector(selector(policies.metricsNamespaceLabels().orElse("")))
            .withPodSelector(selector(policies.metricsPodLabels().orElse("")))
            .build();
    NetworkPolicyPeer operator =
        new NetworkPolicyPeerBuilder()
            .withNamespaceSelector(
                new LabelSelectorBuilder()
                    .withMatchLabels(Map.of(NAMESPACE_NAME_LABEL, settings.namespace()))
                    .build())
            .withPodSelector(
                new LabelSelectorBuilder()
                    .withMatchLabels(labels(policies.operatorPodLabels()))
                    .build())
            .build();
    return new NetworkPolicyBuilder()
        .withNewMetadata()
        .withName(FlotillaNames.workerNetworkPolicy(name))
        .withNamespace(md.getMetadata().getNamespace())
        .withLabels(FlotillaNames.workerLabels(name))
        .withOwnerReferences(OwnerReferences.controller(md))
        .endMetadata()
        .withNewSpec()
        .withNewPodSelector()
        .withMatchLabels(FlotillaNames.workerSelector(name))
        .endPodSelector()
        .withPolicyTypes("Ingress")
        .addNewIngress()
        .withFrom(gateways)
        .addNewPort()
        .withProtocol("TCP")
        .withPort(new IntOrString(FlotillaNames.GRPC_PORT))
        .endPort()
        .endIngress()
        .addNewIngress()
        .withFrom(metrics, operator)
        .addNewPort()
        .withProtocol("TCP")
        .withPort(new IntOrString(FlotillaNames.HTTP_PORT))
        .endPort()
        .endIngress()
        .endSpec()
        .build();
  }

  /** {@code k=v,k=v} as a selector; an empty one selects everything. */
  private static LabelSelector selector(String labels) {
    return new LabelSelectorBuilder().withMatchLabels(labels(labels)).build();
  }

  static Map<String, String> labels(String text) {
    Map<String, String> labels = new LinkedHashMap<>();
    for (String pair : text.split(",")) {
      if (pair.isBlank()) {
        continue;
      }
      int eq = pair.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("not k=v: " + pair.strip());
      }
      labels.put(pair.substring(0, eq).strip(), pair.substring(eq + 1).strip());
    }
    return labels;
  }
}
