package dev.flotilla.local;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.api.model.apps.ReplicaSetBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Collectors;

/**
 * Stands in for the Deployment and ReplicaSet controllers, which the in-memory API server does not
 * run: keeps a ReplicaSet per template of each Deployment ({@code
 * <deployment>-<pod-template-hash>}, controlled by the Deployment) and {@code spec.replicas} pods
 * of the current template, controlled by its ReplicaSet, so that a pod's owners lead to its
 * Deployment as on a cluster (the gateway routes only to such pods). It deletes surplus pods
 * (not-ready and newest first) and pods of an older template once enough new ones are ready, and
 * writes {@code status.replicas/updatedReplicas/readyReplicas/availableReplicas} when they change.
 * Every Deployment is reconciled on any change to it, its ReplicaSets or their pods, and every two
 * seconds. Old ReplicaSets stay, as with a revision history; the garbage collector removes them
 * with their Deployment.
 */
public final class DeploymentController implements AutoCloseable {
  public static final String TEMPLATE_HASH_LABEL = "pod-template-hash";
  private static final Logger LOG = Logger.getLogger(DeploymentController.class.getName());
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final String SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789";

  private final KubernetesClient client;
  private final ScheduledExecutorService loop =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "deployment-controller");
            t.setDaemon(true);
            return t;
          });
  private final Set<String> pending = ConcurrentHashMap.newKeySet();
  private SharedIndexInformer<Deployment> deployments;
  private SharedIndexInformer<ReplicaSet> replicaSets;
  private SharedIndexInformer<Pod> pods;

  public DeploymentController(KubernetesClient client) {
    this.client = client;
  }

  public DeploymentController start() {
    deployments =
        client
            .apps()
            .deployments()
            .inAnyNamespace()
            .inform(
                handler(
                    d ->
                        enqueue(d.getMetadata().getNamespace() + "/" + d.getMetadata().getName())));
    replicaSets =
        client
            .apps()
            .replicaSets()
            .inAnyNamespace()
            .inform(
                handler(
                    rs ->
                        controller(rs, "Deployment")
                            .ifPresent(
                                o ->
                                    enqueue(rs.getMetadata().getNamespace() + "/" + o.getName()))));
    pods =
        client
            .pods()
            .inAnyNamespace()
            .inform(
                handler(
                    p ->
                        controller(p, "ReplicaSet")
                            .map(
                                o ->
                                    replicaSets
                                        .getStore()
                                        .getByKey(
                                            p.getMetadata().getNamespace() + "/" + o.getName()))
                            .flatMap(rs -> controller(rs, "Deployment"))
                            .ifPresent(
                                o -> enqueue(p.getMetadata().getNamespace() + "/" + o.getName()))));
    loop.scheduleWithFixedDelay(
        () ->
            deployments
                .getStore()
                .list()
                .forEach(
                    d -> enqueue(d.getMetadata().getNamespace() + "/" + d.getMetadata().getName())),
        2,
        2,
        TimeUnit.SECONDS);
    return this;
  }

  private static <T> ResourceEventHandler<T> handler(java.util.function.Consumer<T> onChange) {
    return new ResourceEventHandler<>() {
      @Override
      public void onAdd(T obj) {
        onChange.accept(obj);
      }

      @Override
      public void onUpdate(T oldObj, T newObj) {
        onChange.accept(newObj);
      }

      @Override
      public void onDelete(T obj, boolean deletedFinalStateUnknown) {
        onChange.accept(obj);
      }
    };
  }

  private void enqueue(String key) {
    if (pending.add(key)) {
      loop.execute(
          () -> {
            pending.remove(key);
            try {
              reconcile(key);
            } catch (KubernetesClientException e) {
              LOG.log(Level.FINE, "deployment " + key + ": " + e.getMessage(), e);
              loop.schedule(() -> enqueue(key), 500, TimeUnit.MILLISECONDS);
            } catch (RuntimeException e) {
              LOG.log(Level.WARNING, "deployment " + key, e);
            }
          });
    }
  }

  private void reconcile(String key) {
    Deployment d = deployments.getStore().getByKey(key);
    if (d == null) {
      return; // pods it owned are the garbage collector's
    }
    String hash = templateHash(d);
    int replicas = d.getSpec().getReplicas() == null ? 1 : d.getSpec().getReplicas();
    ReplicaSet currentSet = replicaSet(d, hash, replicas);
    Set<String> sets =
        replicaSets.getStore().list().stream()
            .filter(rs -> controlledBy(rs, d.getMetadata().getUid()))
            .map(rs -> rs.getMetadata().getUid())
            .collect(Collectors.toCollection(HashSet::new));
    sets.add(currentSet.getMetadata().getUid());
    List<Pod> active =
        pods.getStore().list().stream()
            .filter(p -> p.getMetadata().getNamespace().equals(d.getMetadata().getNamespace()))
            .filter(
                p -> controller(p, "ReplicaSet").map(o -> sets.contains(o.getUid())).orElse(false))
            .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
            .filter(p -> p.getStatus() == null || !"Failed".equals(p.getStatus().getPhase()))
            .toList();
    List<Pod> current =
        active.stream().filter(p -> hash.equals(label(p, TEMPLATE_HASH_LABEL))).toList();
    List<Pod> old =
        active.stream().filter(p -> !hash.equals(label(p, TEMPLATE_HASH_LABEL))).toList();
    long readyCurrent = current.stream().filter(DeploymentController::isReady).count();

    for (int i = current.size(); i < replicas; i++) {
      client
          .pods()
          .inNamespace(d.getMetadata().getNamespace())
          .resource(newPod(d, currentSet, hash))
          .create();
    }
    deleteSurplus(current, replicas);
    deleteSurplus(old, (int) Math.max(0, replicas - readyCurrent));
    writeStatus(
        d,
        active.size(),
        current.size(),
        (int) active.stream().filter(DeploymentController::isReady).count());
  }

  /** Deletes all but {@code keep} of {@code pods}: not-ready ones first, then the newest. */
  private void deleteSurplus(List<Pod> candidates, int keep) {
    if (candidates.size() <= keep) {
      return;
    }
    List<Pod> order = new ArrayList<>(candidates);
    order.sort(
        Comparator.comparing(DeploymentController::isReady)
            .thenComparing(p -> p.getMetadata().getCreationTimestamp(), Comparator.reverseOrder()));
    for (Pod p : order.subList(0, candidates.size() - keep)) {
      client
          .pods()
          .inNamespace(p.getMetadata().getNamespace())
          .withName(p.getMetadata().getName())
          .delete();
    }
  }

  private void writeStatus(Deployment d, int replicas, int updated, int ready) {
    ObjectNode status = JSON.createObjectNode();
    status.put(
        "observedGeneration",
        d.getMetadata().getGeneration() == null ? 1 : d.getMetadata().getGeneration());
    status.put("replicas", replicas);
    status.put("updatedReplicas", updated);
    status.put("readyReplicas", ready);
    status.put("availableReplicas", ready);
    status.put("unavailableReplicas", Math.max(0, replicas - ready));
    var s = d.getStatus();
    if (s != null
        && Objects.equals(s.getObservedGeneration(), status.get("observedGeneration").asLong())
        && Objects.equals(s.getReplicas(), replicas)
        && Objects.equals(s.getUpdatedReplicas(), updated)
        && Objects.equals(s.getReadyReplicas(), ready)
        && Objects.equals(s.getAvailableReplicas(), ready)) {
      return;
    }
    String now = java.time.Instant.now().toString();
    int desired = d.getSpec().getReplicas() == null ? 1 : d.getSpec().getReplicas();
    status
        .putArray("conditions")
        .addObject()
        .put("type", "Available")
        .put("status", ready >= desired ? "True" : "False")
        .put("reason", ready >= desired ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable")
        .put("lastTransitionTime", now)
        .put("lastUpdateTime", now);
    ObjectNode patch = JSON.createObjectNode();
    patch.set("status", status);
    client
        .apps()
        .deployments()
        .inNamespace(d.getMetadata().getNamespace())
        .withName(d.getMetadata().getName())
        .subresource("status")
        .patch(PatchContext.of(PatchType.JSON_MERGE), patch.toString());
  }

  /**
   * The ReplicaSet of the Deployment's current template, made when it is new; its replicas follow
   * the Deployment's.
   */
  private ReplicaSet replicaSet(Deployment d, String hash, int replicas) {
    String name = d.getMetadata().getName() + "-" + hash;
    ReplicaSet known = replicaSets.getStore().getByKey(d.getMetadata().getNamespace() + "/" + name);
    if (known != null) {
      return known;
    }
    var template = d.getSpec().getTemplate();
    Map<String, String> labels = templateLabels(d, hash);
    ReplicaSet desired =
        new ReplicaSetBuilder()
            .withNewMetadata()
            .withName(name)
            .withNamespace(d.getMetadata().getNamespace())
            .withLabels(labels)
            .withOwnerReferences(controllerReference("Deployment", d))
            .endMetadata()
            .withNewSpec()
            .withReplicas(replicas)
            .withNewSelector()
            .withMatchLabels(labels)
            .endSelector()
            .withNewTemplate()
            .withNewMetadata()
            .withLabels(labels)
            .withAnnotations(
                template.getMetadata() == null ? null : template.getMetadata().getAnnotations())
            .endMetadata()
            .withSpec(template.getSpec())
            .endTemplate()
            .endSpec()
            .build();
    try {
      return client.apps().replicaSets().resource(desired).create();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        throw e;
      }
      return client
          .apps()
          .replicaSets()
          .inNamespace(d.getMetadata().getNamespace())
          .withName(name)
          .get();
    }
  }

  private static Map<String, String> templateLabels(Deployment d, String hash) {
    var template = d.getSpec().getTemplate();
    Map<String, String> labels = new LinkedHashMap<>();
    if (template.getMetadata() != null && template.getMetadata().getLabels() != null) {
      labels.putAll(template.getMetadata().getLabels());
    }
    labels.put(TEMPLATE_HASH_LABEL, hash);
    return labels;
  }

  private static Pod newPod(Deployment d, ReplicaSet owner, String hash) {
    var template = d.getSpec().getTemplate();
    return new PodBuilder()
        .withNewMetadata()
        .withName(owner.getMetadata().getName() + "-" + suffix())
        .withNamespace(d.getMetadata().getNamespace())
        .withLabels(templateLabels(d, hash))
        .withAnnotations(
            template.getMetadata() == null ? null : template.getMetadata().getAnnotations())
        .withOwnerReferences(controllerReference("ReplicaSet", owner))
        .endMetadata()
        .withSpec(template.getSpec())
        .withNewStatus()
        .withPhase("Pending")
        .endStatus()
        .build();
  }

  private static OwnerReference controllerReference(String kind, HasMetadata owner) {
    return new OwnerReferenceBuilder()
        .withApiVersion("apps/v1")
        .withKind(kind)
        .withName(owner.getMetadata().getName())
        .withUid(owner.getMetadata().getUid())
        .withController(true)
        .withBlockOwnerDeletion(true)
        .build();
  }

  /** The object's controller, when it is of {@code kind}. */
  static Optional<OwnerReference> controller(HasMetadata o, String kind) {
    return o.getMetadata().getOwnerReferences() == null
        ? Optional.empty()
        : o.getMetadata().getOwnerReferences().stream()
            .filter(r -> Boolean.TRUE.equals(r.getController()) && kind.equals(r.getKind()))
            .findFirst();
  }

  private static boolean controlledBy(HasMetadata o, String uid) {
    return controller(o, "Deployment").map(r -> uid.equals(r.getUid())).orElse(false);
  }

  static boolean isReady(Pod p) {
    return p.getStatus() != null
        && p.getStatus().getConditions() != null
        && p.getStatus().getConditions().stream()
            .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  private static String label(Pod p, String name) {
    return p.getMetadata().getLabels() == null ? null : p.getMetadata().getLabels().get(name);
  }

  /** Ten hex digits of the template's SHA-256, as the {@code pod-template-hash} label. */
  static String templateHash(Deployment d) {
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256")
              .digest(
                  Serialization.asJson(d.getSpec().getTemplate()).getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest).substring(0, 10);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String suffix() {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < 5; i++) {
      s.append(SUFFIX_CHARS.charAt(RANDOM.nextInt(SUFFIX_CHARS.length())));
    }
    return s.toString();
  }

  @Override
  public void close() {
    loop.shutdownNow();
    if (deployments != null) {
      deployments.close();
    }
    if (replicaSets != null) {
      replicaSets.close();
    }
    if (pods != null) {
      pods.close();
    }
  }
}
