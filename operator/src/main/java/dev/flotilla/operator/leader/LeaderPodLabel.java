package dev.flotilla.operator.leader;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import org.jboss.logging.Logger;

/**
 * Marks the leader's own pod with {@value #LABEL}{@code =true}. The chart's autoscaler Service
 * selects that label, so every gateway's demand stream reaches the one replica that acts on it;
 * when the leader's pod goes, so does the label, and the next leader sets it on its own pod.
 * Outside a pod (local mode, tests: no {@code flotilla.operator.pod-name}) there is nothing to
 * label.
 */
public final class LeaderPodLabel {
  public static final String LABEL = "flotilla.dev/autoscaler-leader";
  private static final Logger LOG = Logger.getLogger(LeaderPodLabel.class);

  private final KubernetesClient client;
  private final String namespace;
  private final String pod;

  public LeaderPodLabel(KubernetesClient client, String namespace, String pod) {
    this.client = client;
    this.namespace = namespace;
    this.pod = pod;
  }

  /** Sets the label; a failure is logged, not thrown: the leader keeps reconciling either way. */
  public void apply() {
    if (pod == null || pod.isBlank() || namespace == null || namespace.isBlank()) {
      return;
    }
    try {
      client
          .pods()
          .inNamespace(namespace)
          .withName(pod)
          .patch(
              PatchContext.of(PatchType.JSON_MERGE),
              "{\"metadata\":{\"labels\":{\"" + LABEL + "\":\"true\"}}}");
      LOG.infof("labelled pod %s/%s %s=true", namespace, pod, LABEL);
    } catch (KubernetesClientException e) {
      LOG.errorf(
          "could not label pod %s/%s as the autoscaler leader (gateways will not reach it): %s",
          namespace, pod, e.getMessage());
    }
  }
}
