package dev.flotilla.gateway.app;

import dev.flotilla.api.crd.LoraAdapter;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.api.crd.SecretKeyReference;
import dev.flotilla.api.crd.Tenant;
import dev.flotilla.gateway.auth.TenantDirectory;
import dev.flotilla.gateway.catalog.ModelCatalog;
import dev.flotilla.gateway.limit.GatewayReplicas;
import dev.flotilla.gateway.route.WorkerPods;
import dev.flotilla.gateway.route.WorkerRegistry;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ExceptionHandler;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.jboss.logging.Logger;

/**
 * Feeds the gateway's in-memory views from the API server: Tenants and Secrets (API-key index),
 * ModelDeployments and LoraAdapters (catalog), and worker pods (endpoints). One watch per kind; no
 * API call per request.
 *
 * <p>Worker pods are found by the label {@code flotilla.gateway.workers.model-label} (default
 * {@code flotilla.dev/model}, value = ModelDeployment name, same namespace); a pod is an endpoint
 * while it is Ready, has an IP, and its owners lead to the worker Deployment the operator made for
 * that model ({@link WorkerPods}), so the operator's worker Deployments and the ReplicaSets of
 * worker pods are watched too.
 *
 * <p>Secrets are watched only with the label {@link SecretKeyReference#LABEL_SELECTOR}, and only in
 * the namespaces {@code flotilla.gateway.tenant-secret-namespaces} lists (every namespace when
 * unset): the API server sends no other Secret, so none is in memory, and the gateway's RBAC can be
 * a Role in each of those namespaces instead of cluster-wide read on Secrets.
 *
 * <p>The gateway's own pods are watched too, in its namespace, to count the replicas that share
 * each tenant's limits ({@link GatewayReplicas}).
 */
@ApplicationScoped
public class KubernetesInformers {
  private static final Logger LOG = Logger.getLogger(KubernetesInformers.class);

  /** Labels the operator puts on worker Deployments and pod templates (its FlotillaNames). */
  static final String WORKER_NAME_LABEL = "app.kubernetes.io/name";

  static final String WORKER_APP = "flotilla-worker";
  static final String MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
  static final String OPERATOR = "flotilla-operator";
  private final KubernetesClient client;
  private final List<SharedIndexInformer<?>> informers = new ArrayList<>();
  private final List<SharedIndexInformer<Secret>> secretInformers = new ArrayList<>();

  public KubernetesInformers(KubernetesClient client) {
    this.client = client;
  }

  void start(
      TenantDirectory tenants,
      ModelCatalog catalog,
      WorkerRegistry registry,
      GatewayConfig.Workers workers,
      List<String> keySecretNamespaces) {
    add(
        client.resources(Tenant.class).runnableInformer(0),
        tenants::onTenant,
        t -> tenants.onTenantDeleted(t.getMetadata().getName()));
    for (SharedIndexInformer<Secret> keySecrets : keySecretInformers(keySecretNamespaces)) {
      secretInformers.add(keySecrets);
      add(
          keySecrets,
          tenants::onSecret,
          s -> tenants.onSecretDeleted(s.getMetadata().getNamespace(), s.getMetadata().getName()));
    }
    add(
        client.resources(ModelDeployment.class).inAnyNamespace().runnableInformer(0),
        catalog::onModel,
        m -> catalog.onModelDeleted(m.getMetadata().getNamespace(), m.getMetadata().getName()));
    add(
        client.resources(LoraAdapter.class).inAnyNamespace().runnableInformer(0),
        catalog::onAdapter,
        a -> catalog.onAdapterDeleted(a.getMetadata().getNamespace(), a.getMetadata().getName()));
    WorkerPods workerPods = new WorkerPods(registry, workers.modelLabel(), workers.port());
    add(
        client
            .apps()
            .deployments()
            .inAnyNamespace()
            .withLabel(WORKER_NAME_LABEL, WORKER_APP)
            .withLabel(MANAGED_BY_LABEL, OPERATOR)
            .runnableInformer(0),
        workerPods::onDeployment,
        workerPods::onDeploymentDeleted);
    add(
        client
            .apps()
            .replicaSets()
            .inAnyNamespace()
            .withLabel(WORKER_NAME_LABEL, WORKER_APP)
            .runnableInformer(0),
        workerPods::onReplicaSet,
        workerPods::onReplicaSetDeleted);
    add(
        client.pods().inAnyNamespace().withLabel(workers.modelLabel()).runnableInformer(0),
        workerPods::onPod,
        workerPods::onPodDeleted);
  }

  /** {@code namespace/name} of every Secret the informers hold. */
  List<String> cachedSecrets() {
    return secretInformers.stream()
        .flatMap(i -> i.getStore().list().stream())
        .map(s -> s.getMetadata().getNamespace() + "/" + s.getMetadata().getName())
        .sorted()
        .toList();
  }

  /** One informer per listed namespace, or one over every namespace when none is listed. */
  private List<SharedIndexInformer<Secret>> keySecretInformers(List<String> namespaces) {
    if (namespaces.isEmpty()) {
      return List.of(
          client
              .secrets()
              .inAnyNamespace()
              .withLabel(SecretKeyReference.LABEL, SecretKeyReference.LABEL_VALUE)
              .runnableInformer(0));
    }
    return namespaces.stream()
        .distinct()
        .map(
            ns ->
                client
                    .secrets()
                    .inNamespace(ns)
                    .withLabel(SecretKeyReference.LABEL, SecretKeyReference.LABEL_VALUE)
                    .runnableInformer(0))
        .toList();
  }

  /**
   * Counts the gateway's own ready pods ({@code selector} in {@code namespace}, or in the client's
   * namespace) into {@code replicas}; until they are listed, {@code replicas} keeps the whole
   * limits.
   */
  void startReplicas(GatewayReplicas replicas, Optional<String> namespace, String selector) {
    String ns = namespace.orElseGet(client::getNamespace);
    SharedIndexInformer<Pod> informer =
        client.pods().inNamespace(ns).withLabelSelector(selector).runnableInformer(0);
    LOG.infof(
        "counting the gateway's ready pods (%s in %s); until they are listed this replica"
            + " enforces every tenant's whole limits",
        selector, ns);
    add(informer, replicas::onPod, replicas::onPodDeleted)
        .whenComplete(
            (ok, err) -> {
              if (err != null) {
                LOG.warnf(
                    "cannot list the gateway's pods (%s in %s): this replica enforces every"
                        + " tenant's whole limits, so the replicas together admit more: %s",
                    selector, ns, err.toString());
              } else {
                replicas.listed();
              }
            });
  }

  /**
   * Retries a failed list or watch with back-off, the first list too: by default an informer whose
   * first list fails (an API server slow to answer while the gateway starts) stops for good, and
   * the gateway would never learn of its tenants, workers or replicas. Only a response it cannot
   * read stops it, as it would fail again.
   */
  private static boolean retry(boolean started, Throwable failure) {
    return !ExceptionHandler.isDeserializationException(failure);
  }

  /** Starts {@code informer} feeding {@code upsert} and {@code delete}; completes once listed. */
  private <T extends HasMetadata> CompletableFuture<Void> add(
      SharedIndexInformer<T> informer, Consumer<T> upsert, Consumer<T> delete) {
    informer.exceptionHandler(KubernetesInformers::retry);
    informer.addEventHandler(
        new ResourceEventHandler<T>() {
          @Override
          public void onAdd(T obj) {
            upsert.accept(obj);
          }

          @Override
          public void onUpdate(T oldObj, T newObj) {
            upsert.accept(newObj);
          }

          @Override
          public void onDelete(T obj, boolean deletedFinalStateUnknown) {
            delete.accept(obj);
          }
        });
    CompletableFuture<Void> started = informer.start().toCompletableFuture();
    started.whenComplete(
        (ok, err) -> {
          if (err != null) {
            LOG.warnf(
                "informer for %s did not start: %s",
                informer.getApiTypeClass().getSimpleName(), err.toString());
          }
        });
    informers.add(informer);
    return started;
  }

  @jakarta.annotation.PreDestroy
  void stop() {
    informers.forEach(SharedIndexInformer::stop);
  }
}
