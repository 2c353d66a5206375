package dev.flotilla.gateway.route;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * Decides which pods are worker endpoints, from the pods, ReplicaSets and worker Deployments the
 * informers see, and keeps the {@link WorkerRegistry} to it.
 *
 * <p>A pod labelled {@code flotilla.dev/model=<model>} is a worker of {@code <namespace>/<model>}
 * only when its owners lead to what the operator made for that model: the pod is controlled by a
 * ReplicaSet, the ReplicaSet by the Deployment {@code <model>-worker} in the same namespace (by
 * UID), and that Deployment by the ModelDeployment {@code <model>}. A pod someone else creates with
 * the label, or with an owner reference to another ReplicaSet, receives no request. (Owner
 * references are not authenticated: the worker's certificate, which the gateway checks on every
 * connection, is what proves a pod is the model's worker; this check keeps the rest out of the
 * routing table.)
 *
 * <p>Owners may arrive after their pods, so every change re-evaluates the pods it concerns.
 */
public final class WorkerPods {
  private static final Logger LOG = Logger.getLogger(WorkerPods.class);

  /**
   * The operator's name for a model's worker Deployment ({@code FlotillaNames.workerDeployment}).
   */
  static final String DEPLOYMENT_SUFFIX = "-worker";

  private final WorkerRegistry registry;
  private final String modelLabel;
  private final int port;

  /** Worker Deployments by {@code namespace/name}: their UIDs. */
  private final Map<String, String> deployments = new HashMap<>();

  /** A ReplicaSet's namespace and the UID of the Deployment that controls it. */
  private record ReplicaSetOwner(String namespace, String deploymentUid) {}

  /** ReplicaSets by UID. */
  private final Map<String, ReplicaSetOwner> replicaSets = new HashMap<>();

  private final Map<String, Pod> pods = new HashMap<>();

  public WorkerPods(WorkerRegistry registry, String modelLabel, int port) {
    this.registry = registry;
    this.modelLabel = modelLabel;
    this.port = port;
  }

  public synchronized void onDeployment(Deployment d) {
    String name = d.getMetadata().getName();
    Optional<OwnerReference> owner = controller(d);
    boolean operators =
        name.endsWith(DEPLOYMENT_SUFFIX)
            && owner.isPresent()
            && "ModelDeployment".equals(owner.get().getKind())
            && (name.substring(0, name.length() - DEPLOYMENT_SUFFIX.length()))
                .equals(owner.get().getName());
    if (operators) {
      deployments.put(key(d), d.getMetadata().getUid());
    } else {
      deployments.remove(key(d));
    }
    evaluateAll();
  }

  public synchronized void onDeploymentDeleted(Deployment d) {
    deployments.remove(key(d));
    evaluateAll();
  }

  public synchronized void onReplicaSet(ReplicaSet rs) {
    Optional<OwnerReference> owner = controller(rs);
    if (owner.isPresent() && "Deployment".equals(owner.get().getKind())) {
      replicaSets.put(
          rs.getMetadata().getUid(),
          new ReplicaSetOwner(rs.getMetadata().getNamespace(), owner.get().getUid()));
    } else {
      replicaSets.remove(rs.getMetadata().getUid());
    }
    evaluateAll();
  }

  public synchronized void onReplicaSetDeleted(ReplicaSet rs) {
    replicaSets.remove(rs.getMetadata().getUid());
    evaluateAll();
  }

  public synchronized void onPod(Pod pod) {
    pods.put(key(pod), pod);
    evaluate(pod);
  }

  public synchronized void onPodDeleted(Pod pod) {
    pods.remove(key(pod));
    registry.remove(key(pod));
  }

  private void evaluateAll() {
    pods.values().forEach(this::evaluate);
  }

  private void evaluate(Pod pod) {
    String id = key(pod);
    Optional<String> refusal = refusal(pod);
    if (refusal.isPresent()) {
      if (registry.endpoint(id).isPresent()) {
        LOG.infof("pod %s is no worker endpoint: %s", id, refusal.get());
      }
      registry.remove(id);
      return;
    }
    registry.upsert(
        new WorkerRegistry.Endpoint(
            id,
            pod.getMetadata().getNamespace() + "/" + model(pod),
            pod.getStatus().getPodIP() + ":" + port));
  }

  /** Why the pod receives no request; empty when it is a ready worker of its model. */
  Optional<String> refusal(Pod pod) {
    if (pod.getStatus() == null
        || pod.getStatus().getPodIP() == null
        || pod.getMetadata().getDeletionTimestamp() != null
        || pod.getStatus().getConditions() == null
        || pod.getStatus().getConditions().stream()
            .noneMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()))) {
      return Optional.of("not ready");
    }
    String model = model(pod);
    String namespace = pod.getMetadata().getNamespace();
    String deployment = model + DEPLOYMENT_SUFFIX;
    String deploymentUid = deployments.get(namespace + "/" + deployment);
    if (deploymentUid == null) {
      return Optional.of("no worker Deployment " + deployment + " of the operator's");
    }
    Optional<OwnerReference> owner = controller(pod);
    if (owner.isEmpty() || !"ReplicaSet".equals(owner.get().getKind())) {
      return Optional.of("not controlled by a ReplicaSet");
    }
    if (!new ReplicaSetOwner(namespace, deploymentUid)
        .equals(replicaSets.get(owner.get().getUid()))) {
      return Optional.of(
          "its ReplicaSet " + owner.get().getName() + " is not one of " + deployment + "'s");
    }
    return Optional.empty();
  }

  private String model(Pod pod) {
    return pod.getMetadata().getLabels() == null
        ? null
        : pod.getMetadata().getLabels().get(modelLabel);
  }

  private static Optional<OwnerReference> controller(HasMetadata o) {
    return o.getMetadata().getOwnerReferences() == null
        ? Optional.empty()
        : o.getMetadata().getOwnerReferences().stream()
            .filter(r -> Boolean.TRUE.equals(r.getController()))
            .findFirst();
  }

  private static String key(HasMetadata o) {
    return o.getMetadata().getNamespace() + "/" + o.getMetadata().getName();
  }
}
