package dev.flotilla.gateway.limit;

import io.fabric8.kubernetes.api.model.Pod;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;
import org.jboss.logging.Logger;

/**
 * How many gateway replicas serve, as this one sees its Deployment's pods: the ready ones, and
 * itself (a replica that is handling a request is serving, whatever its pod's condition says yet).
 * Its {@link ReplicaShare} is what {@link TenantLimiter} divides every tenant's limits by.
 *
 * <p>A pod counts while its Ready condition is True and it is not being deleted, as a Service's
 * endpoints do, so the count follows the replicas the load balancer sends to. Until the pods have
 * been listed once the count is unknown, and this replica enforces each tenant's whole limits.
 */
public final class GatewayReplicas implements Supplier<ReplicaShare> {
  private static final Logger LOG = Logger.getLogger(GatewayReplicas.class);

  private final String self;
  private final Set<String> seen = new TreeSet<>();
  private final TreeSet<String> ready = new TreeSet<>();
  private boolean listed;
  private volatile ReplicaShare share = ReplicaShare.WHOLE;

  /**
   * @param self this replica's pod name
   */
  public GatewayReplicas(String self) {
    this.self = self;
  }

  @Override
  public ReplicaShare get() {
    return share;
  }

  public synchronized void onPod(Pod pod) {
    String name = pod.getMetadata().getName();
    seen.add(name);
    if (isReady(pod)) {
      ready.add(name);
    } else {
      ready.remove(name);
    }
    update();
  }

  public synchronized void onPodDeleted(Pod pod) {
    seen.remove(pod.getMetadata().getName());
    ready.remove(pod.getMetadata().getName());
    update();
  }

  /** The pods have been listed: from now on the count is known. */
  public synchronized void listed() {
    listed = true;
    if (!seen.contains(self)) {
      LOG.warnf(
          "no gateway pod is named %s, this replica's id: it counts itself on top of the %d"
              + " ready gateway pods (set flotilla.gateway.id to the pod name, or leave it unset)",
          self, ready.size());
    }
    update();
  }

  private void update() {
    if (!listed) {
      return;
    }
    TreeSet<String> serving = new TreeSet<>(ready);
    serving.add(self);
    ReplicaShare next = new ReplicaShare(serving.size(), serving.headSet(self).size());
    if (!next.equals(share)) {
      LOG.infof(
          "%d gateway replicas serve: this one enforces 1/%d of every tenant's limits",
          next.replicas(), next.replicas());
      share = next;
    }
  }

  private static boolean isReady(Pod pod) {
    return pod.getMetadata().getDeletionTimestamp() == null
        && pod.getStatus() != null
        && pod.getStatus().getConditions() != null
        && pod.getStatus().getConditions().stream()
            .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
  }
}
