package dev.flotilla.local;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * Stands in for Kubernetes' garbage collector, which the in-memory API server does not run: every
 * second it deletes the Deployments, ReplicaSets, Services, Pods, ConfigMaps, Secrets and
 * NetworkPolicies whose owners (by {@code ownerReferences} uid) are all gone, so deleting a
 * ModelDeployment removes its workers, as on a cluster. Owners may be of any kind the server
 * serves, custom resources included.
 */
public final class GarbageCollector implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(GarbageCollector.class.getName());
  private final KubernetesClient client;
  private final ScheduledExecutorService loop =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "garbage-collector");
            t.setDaemon(true);
            return t;
          });

  public GarbageCollector(KubernetesClient client) {
    this.client = client;
  }

  public GarbageCollector start() {
    loop.scheduleWithFixedDelay(this::collectSafely, 1, 1, TimeUnit.SECONDS);
    return this;
  }

  private void collectSafely() {
    try {
      collect();
    } catch (RuntimeException e) {
      LOG.log(Level.FINE, "garbage collection pass failed", e);
    }
  }

  /** One pass; returns how many objects it deleted. */
  public int collect() {
    Map<String, Boolean> ownerExists = new HashMap<>();
    List<HasMetadata> dependents =
        Stream.<List<? extends HasMetadata>>of(
                client.apps().deployments().inAnyNamespace().list().getItems(),
                client.apps().replicaSets().inAnyNamespace().list().getItems(),
                client.services().inAnyNamespace().list().getItems(),
                client.pods().inAnyNamespace().list().getItems(),
                client.configMaps().inAnyNamespace().list().getItems(),
                client.secrets().inAnyNamespace().list().getItems(),
                client.network().v1().networkPolicies().inAnyNamespace().list().getItems())
            .flatMap(List::stream)
            .map(HasMetadata.class::cast)
            .filter(
                o ->
                    o.getMetadata().getOwnerReferences() != null
                        && !o.getMetadata().getOwnerReferences().isEmpty())
            .toList();
    int deleted = 0;
    for (HasMetadata o : dependents) {
      boolean orphan =
          o.getMetadata().getOwnerReferences().stream()
              .noneMatch(
                  ref ->
                      ownerExists.computeIfAbsent(
                          o.getMetadata().getNamespace() + "|" + ref.getUid(),
                          k -> exists(ref, o.getMetadata().getNamespace())));
      if (orphan && o.getMetadata().getDeletionTimestamp() == null) {
        try {
          client.resource(o).delete();
          deleted++;
        } catch (KubernetesClientException e) {
          LOG.log(Level.FINE, "deleting " + o.getMetadata().getName(), e);
        }
      }
    }
    return deleted;
  }

  private boolean exists(OwnerReference ref, String namespace) {
    try {
      var resources = client.genericKubernetesResources(ref.getApiVersion(), ref.getKind());
      GenericKubernetesResource owner =
          Optional.ofNullable(namespace)
              .map(ns -> resources.inNamespace(ns).withName(ref.getName()).get())
              .orElseGet(() -> resources.withName(ref.getName()).get());
      if (owner == null && namespace != null) {
        // A cluster-scoped owner of a namespaced object.
        owner = resources.withName(ref.getName()).get();
      }
      return owner != null && ref.getUid().equals(owner.getMetadata().getUid());
    } catch (KubernetesClientException | IllegalArgumentException e) {
      return true; // unknown kind: keep the dependent rather than guess
    }
  }

  @Override
  public void close() {
    loop.shutdownNow();
  }
}
