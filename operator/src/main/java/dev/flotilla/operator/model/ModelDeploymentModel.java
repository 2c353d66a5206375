package dev.flotilla.operator.model;

import static dev.flotilla.operator.FlotillaNames.GPU_RESOURCE;
import static dev.flotilla.operator.FlotillaNames.GRPC_PORT;
import static dev.flotilla.operator.FlotillaNames.GRPC_PORT_NAME;
import static dev.flotilla.operator.FlotillaNames.HTTP_PORT;
import static dev.flotilla.operator.FlotillaNames.HTTP_PORT_NAME;

import dev.flotilla.api.crd.GpuNodePool;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.operator.FlotillaNames;
import dev.flotilla.operator.config.OperatorSettings;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.LocalObjectReference;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpecBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.api.model.apps.DeploymentStrategy;
import io.fabric8.kubernetes.api.model.apps.DeploymentStrategyBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * The worker Deployment and headless Service a ModelDeployment should have, computed from the
 * resource, the pool it was placed on and the operator's settings. No API calls: the reconciler
 * applies what this returns.
 *
 * <p>Replicas are not part of the pod template, so the template hash (and with it the workers)
 * changes only for what the workers must restart for: model, engine limits, image, resources and
 * placement. Scaling never rolls.
 */
public final class ModelDeploymentModel {
  /** Where {@code pvc://claim/path} sources are mounted inside the worker. */
  static final String PVC_MOUNT_ROOT = "/var/lib/flotilla/pvc/";

  /** Where {@code hf://} and {@code s3://} downloads are kept inside the worker. */
  static final String CACHE_MOUNT_PATH = "/var/cache/flotilla";

  static final String CACHE_VOLUME = "download-cache";

  /**
   * The keys of {@code spec.model.credentialsSecret} the worker reads, under the names the Hugging
   * Face and AWS tools use; each is optional.
   */
  static final List<String> CREDENTIAL_KEYS =
      List.of(
          "HF_TOKEN",
          "HF_ENDPOINT",
          "AWS_ACCESS_KEY_ID",
          "AWS_SECRET_ACCESS_KEY",
          "AWS_SESSION_TOKEN",
          "AWS_REGION",
          "AWS_ENDPOINT_URL_S3");

  /**
   * Seconds of the grace period kept back from the worker's drain for what follows it before the
   * kubelet's SIGKILL: failing what is still running with UNAVAILABLE (after the engine step in
   * progress, which can take seconds on a CPU), so gateways see a status and not a cut stream;
   * freeing the engine; stopping the gRPC and HTTP servers; the JVM's exit. Ten seconds covers that
   * with room on a busy node, and 120 s less 10 still holds the 2,048-token completion at 20
   * tokens/s (about 102 s) the default grace period is sized for.
   */
  static final long SHUTDOWN_MARGIN_SECONDS = 10;

  private final ModelDeployment cr;
  private final EffectiveSpec spec;
  private final GpuNodePool pool;
  private final OperatorSettings settings;
  private final String name;
  private final String namespace;
  private final SortedSet<String> adapterClaims;

  private ModelDeploymentModel(
      ModelDeployment cr,
      GpuNodePool pool,
      OperatorSettings settings,
      Collection<String> adapters) {
    this.adapterClaims = new TreeSet<>();
    for (String source : adapters) {
      PvcSource pvc = PvcSource.parse(source);
      if (pvc != null) {
        adapterClaims.add(pvc.claim());
      }
    }
    this.cr = cr;
    this.spec = EffectiveSpec.of(cr.getSpec());
    this.pool = pool;
    this.settings = settings;
    this.name = cr.getMetadata().getName();
    this.namespace = cr.getMetadata().getNamespace();
  }

  /**
   * @param pool the pool the workers were placed on; {@code null} for CPU-only workers
   */
  public static ModelDeploymentModel from(
      ModelDeployment cr, GpuNodePool pool, OperatorSettings settings) {
    return new ModelDeploymentModel(cr, pool, settings, List.of());
  }

  /**
   * @param adapterSources the sources of the LoraAdapters on this deployment: each claim they name
   *     is mounted (read-only) beside the model's, so a new claim rolls the workers and an adapter
   *     on a claim already mounted does not
   */
  public static ModelDeploymentModel from(
      ModelDeployment cr,
      GpuNodePool pool,
      OperatorSettings settings,
      Collection<String> adapterSources) {
    return new ModelDeploymentModel(cr, pool, settings, adapterSources);
  }

  public EffectiveSpec spec() {
    return spec;
  }

  /** The worker Deployment running {@code replicas} workers. */
  public Deployment deployment(int replicas) {
    PodTemplateSpec template = podTemplate();
    Map<String, String> annotations = new LinkedHashMap<>();
    annotations.put(FlotillaNames.ANNOTATION_TEMPLATE_HASH, templateHash(template));
    if (pool != null) {
      annotations.put(FlotillaNames.ANNOTATION_POOL, pool.getMetadata().getName());
    }
    return new DeploymentBuilder()
        .withMetadata(metadata(FlotillaNames.workerDeployment(name), annotations))
        .withNewSpec()
        .withReplicas(replicas)
        .withNewSelector()
        .withMatchLabels(FlotillaNames.workerSelector(name))
        .endSelector()
        .withStrategy(strategy())
        .withTemplate(template)
        .endSpec()
        .build();
  }

  /** The headless Service gateways resolve to reach every ready worker directly. */
  public Service service() {
    return new ServiceBuilder()
        .withMetadata(metadata(FlotillaNames.workerService(name), Map.of()))
        .withNewSpec()
        .withClusterIP("None")
        .withSelector(FlotillaNames.workerSelector(name))
        .addNewPort()
        .withName(GRPC_PORT_NAME)
        .withPort(GRPC_PORT)
        .withTargetPort(new IntOrString(GRPC_PORT_NAME))
        .withProtocol("TCP")
        .endPort()
        .addNewPort()
        .withName(HTTP_PORT_NAME)
        .withPort(HTTP_PORT)
        .withTargetPort(new IntOrString(HTTP_PORT_NAME))
        .withProtocol("TCP")
        .endPort()
        .endSpec()
        .build();
  }

  /** Hash of the pod template; equal hashes mean the running workers need no restart. */
  public String templateHash() {
    return templateHash(podTemplate());
  }

  PodTemplateSpec podTemplate() {
    Map<String, String> nodeSelector =
        pool == null || pool.getSpec().getNodeSelector() == null
            ? null
            : new LinkedHashMap<>(pool.getSpec().getNodeSelector());
    List<Toleration> tolerations =
        pool == null || pool.getSpec().getTolerations() == null
            ? null
            : List.copyOf(pool.getSpec().getTolerations());
    return new PodTemplateSpecBuilder()
        .withNewMetadata()
        .withLabels(FlotillaNames.workerLabels(name))
        .endMetadata()
        .withNewSpec()
        .withSecurityContext(WorkerPodSecurity.pod())
        .withAutomountServiceAccountToken(false)
        .withContainers(container())
        .withVolumes(volumes())
        .withNodeSelector(nodeSelector)
        .withTolerations(tolerations)
        .withTerminationGracePeriodSeconds(settings.terminationGracePeriod().toSeconds())
        .withImagePullSecrets(
            settings.workerImagePullSecrets().orElse(List.of()).stream()
                .map(LocalObjectReference::new)
                .toList())
        .endSpec()
        .build();
  }

  private Container container() {
    return new ContainerBuilder()
        .withName(FlotillaNames.WORKER_CONTAINER)
        .withImage(spec.image() == null ? settings.workerImage() : spec.image())
        .withImagePullPolicy(settings.workerImagePullPolicy().name())
        .withEnv(env())
        .addNewPort()
        .withName(GRPC_PORT_NAME)
        .withContainerPort(GRPC_PORT)
        .withProtocol("TCP")
        .endPort()
        .addNewPort()
        .withName(HTTP_PORT_NAME)
        .withContainerPort(HTTP_PORT)
        .withProtocol("TCP")
        .endPort()
        .withResources(resources())
        .withSecurityContext(WorkerPodSecurity.container())
        // Ready only once the model is loaded (and until draining starts). A request held for a
        // cold model waits for this probe, so it runs every second (the kubelet's shortest
        // period): a period of P seconds adds P/2 on average, up to P, to a cold start after the
        // model is ready. HTTP, because the gRPC port admits gateways only (mutual TLS).
        .withNewReadinessProbe()
        .withNewHttpGet()
        .withPath("/q/health/ready")
        .withPort(new IntOrString(HTTP_PORT_NAME))
        .endHttpGet()
        .withPeriodSeconds(1)
        .withFailureThreshold(3)
        .endReadinessProbe()
        .withNewLivenessProbe()
        .withNewHttpGet()
        .withPath("/q/health/live")
        .withPort(new IntOrString(HTTP_PORT_NAME))
        .endHttpGet()
        .withPeriodSeconds(10)
        .withFailureThreshold(3)
        .endLivenessProbe()
        .withVolumeMounts(volumeMounts())
        // A worker that cannot fetch or load its model exits with the reason (the file and the
        // cause) as its last log line: the pod's status shows it as the termination message.
        .withTerminationMessagePolicy("FallbackToLogsOnError")
        .build();
  }

  private List<EnvVar> env() {
    List<EnvVar> env = new ArrayList<>();
    env.add(new EnvVar("FLOTILLA_MODEL_SOURCE", spec.source(), null));
    env.add(new EnvVar("FLOTILLA_MODEL_NAME", namespace + "/" + name, null));
    if (spec.dtype() != null) {
      env.add(new EnvVar("FLOTILLA_DTYPE", spec.dtype().name(), null));
    }
    env.add(new EnvVar("FLOTILLA_MAX_BATCH_SIZE", String.valueOf(spec.maxBatchSize()), null));
    env.add(
        new EnvVar("FLOTILLA_MAX_SEQUENCE_LENGTH", String.valueOf(spec.maxSequenceLength()), null));
    env.add(
        new EnvVar(
            "FLOTILLA_KV_CACHE_BYTES",
            String.valueOf(Quantities.bytes(spec.kvCacheMemory())),
            null));
    env.add(new EnvVar("FLOTILLA_KV_BLOCK_SIZE", String.valueOf(spec.kvBlockSize()), null));
    env.add(new EnvVar("FLOTILLA_KV_CACHE_DTYPE", spec.kvCacheDtype().value(), null));
    if (spec.maxAdaptersResident() != null) { // unset: as many as the KV budget holds
      env.add(
          new EnvVar("FLOTILLA_MAX_ADAPTERS", String.valueOf(spec.maxAdaptersResident()), null));
    }
    env.add(new EnvVar("FLOTILLA_PREFIX_CACHE", String.valueOf(spec.prefixCache()), null));
    env.add(new EnvVar("FLOTILLA_MAX_LORA_RANK", String.valueOf(spec.maxLoraRank()), null));
    env.add(new EnvVar("FLOTILLA_THREADS", String.valueOf(spec.threads()), null));
    env.add(new EnvVar("FLOTILLA_DRAIN_GRACE", drainGraceSeconds() + "s", null));
    if (settings.mtls().enabled()) {
      env.add(new EnvVar("FLOTILLA_MTLS_DIR", FlotillaNames.MTLS_MOUNT_PATH, null));
    } else {
      env.add(new EnvVar("FLOTILLA_MTLS_ENABLED", "false", null));
    }
    env.addAll(sourceEnv());
    return env;
  }

  /**
   * Where the worker finds pvc:// claims (it reads {@code pvc://CLAIM/path} as {@code
   * <root>/CLAIM/path}, models and adapters alike) and keeps downloads, and the download settings
   * of {@code spec.model.credentialsSecret}, each an optional key so one Secret serves hf:// and
   * s3://.
   */
  private List<EnvVar> sourceEnv() {
    List<EnvVar> env = new ArrayList<>();
    env.add(
        new EnvVar(
            "FLOTILLA_PVC_ROOT", PVC_MOUNT_ROOT.substring(0, PVC_MOUNT_ROOT.length() - 1), null));
    env.add(new EnvVar("FLOTILLA_CACHE_DIR", CACHE_MOUNT_PATH, null));
    String secret = cr.getSpec().getModel().getCredentialsSecret();
    if (secret != null) {
      for (String key : CREDENTIAL_KEYS) {
        env.add(
            new EnvVarBuilder()
                .withName(key)
                .withNewValueFrom()
                .withNewSecretKeyRef()
                .withName(secret)
                .withKey(key)
                .withOptional(true)
                .endSecretKeyRef()
                .endValueFrom()
                .build());
      }
    }
    return env;
  }

  /** The claims of adapters that the model's own claim does not already give. */
  private SortedSet<String> extraAdapterClaims() {
    SortedSet<String> claims = new TreeSet<>(adapterClaims);
    PvcSource model = PvcSource.parse(spec.source());
    if (model != null) {
      claims.remove(model.claim());
    }
    return claims;
  }

  /**
   * A volume name (a DNS label) for an adapter claim: {@code adapters-<claim>} when that fits, else
   * a hash of the claim.
   */
  static String adapterVolume(String claim) {
    String plain = "adapters-" + claim;
    return plain.length() <= 63 && !claim.contains(".") ? plain : "adapters-" + shortHash(claim);
  }

  private static String shortHash(String text) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)),
              0,
              8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * How long a stopping worker lets admitted requests finish: the pod's grace period less {@link
   * #SHUTDOWN_MARGIN_SECONDS}, or less half of it when the grace period is shorter than twice the
   * margin.
   */
  long drainGraceSeconds() {
    long grace = settings.terminationGracePeriod().toSeconds();
    return grace - Math.min(SHUTDOWN_MARGIN_SECONDS, grace / 2);
  }

  private List<Volume> volumes() {
    List<Volume> volumes = new ArrayList<>();
    volumes.add(WorkerPodSecurity.tmpVolume());
    PvcSource pvc = PvcSource.parse(spec.source());
    if (pvc != null) {
      volumes.add(
          new VolumeBuilder()
              .withName("model")
              .withNewPersistentVolumeClaim()
              .withClaimName(pvc.claim())
              .withReadOnly(true)
              .endPersistentVolumeClaim()
              .build());
    }
    for (String claim : extraAdapterClaims()) {
      volumes.add(
          new VolumeBuilder()
              .withName(adapterVolume(claim))
              .withNewPersistentVolumeClaim()
              .withClaimName(claim)
              .withReadOnly(true)
              .endPersistentVolumeClaim()
              .build());
    }
    String cacheClaim = cr.getSpec().getModel().getCacheClaim();
    volumes.add(
        cacheClaim == null
            ? new VolumeBuilder().withName(CACHE_VOLUME).withNewEmptyDir().endEmptyDir().build()
            : new VolumeBuilder()
                .withName(CACHE_VOLUME)
                .withNewPersistentVolumeClaim()
                .withClaimName(cacheClaim)
                .endPersistentVolumeClaim()
                .build());
    if (settings.mtls().enabled()) {
      // Not optional: a worker never starts without the certificate gateways check.
      volumes.add(
          new VolumeBuilder()
              .withName(FlotillaNames.MTLS_VOLUME)
              .withNewSecret()
              .withSecretName(FlotillaNames.workerMtlsSecret(name))
              .endSecret()
              .build());
    }
    return volumes;
  }

  private List<VolumeMount> volumeMounts() {
    List<VolumeMount> mounts = new ArrayList<>();
    mounts.add(WorkerPodSecurity.tmpMount());
    PvcSource pvc = PvcSource.parse(spec.source());
    if (pvc != null) {
      mounts.add(
          new VolumeMountBuilder()
              .withName("model")
              .withMountPath(PVC_MOUNT_ROOT + pvc.claim())
              .withReadOnly(true)
              .build());
    }
    for (String claim : extraAdapterClaims()) {
      mounts.add(
          new VolumeMountBuilder()
              .withName(adapterVolume(claim))
              .withMountPath(PVC_MOUNT_ROOT + claim)
              .withReadOnly(true)
              .build());
    }
    mounts.add(
        new VolumeMountBuilder().withName(CACHE_VOLUME).withMountPath(CACHE_MOUNT_PATH).build());
    if (settings.mtls().enabled()) {
      mounts.add(
          new VolumeMountBuilder()
              .withName(FlotillaNames.MTLS_VOLUME)
              .withMountPath(FlotillaNames.MTLS_MOUNT_PATH)
              .withReadOnly(true)
              .build());
    }
    return mounts;
  }

  private ResourceRequirements resources() {
    Map<String, Quantity> requests = new LinkedHashMap<>();
    Map<String, Quantity> limits = new LinkedHashMap<>();
    if (spec.cpu() != null) {
      requests.put("cpu", new Quantity(spec.cpu()));
    }
    if (spec.memory() != null) {
      requests.put("memory", new Quantity(spec.memory()));
      limits.put("memory", new Quantity(spec.memory()));
    }
    if (spec.gpus() > 0) {
      // Extended resources must have equal requests and limits.
      requests.put(GPU_RESOURCE, new Quantity(String.valueOf(spec.gpus())));
      limits.put(GPU_RESOURCE, new Quantity(String.valueOf(spec.gpus())));
    }
    ResourceRequirements r = new ResourceRequirements();
    r.setRequests(requests);
    r.setLimits(limits);
    return r;
  }

  /**
   * GPU workers replace one at a time without a surge pod: placement reserves exactly maxReplicas ×
   * gpus on the pool, so a surge pod at maximum scale would wait for a GPU that is not there. CPU
   * workers surge, so serving capacity never dips during a roll.
   */
  private DeploymentStrategy strategy() {
    boolean gpu = spec.gpus() > 0;
    return new DeploymentStrategyBuilder()
        .withType("RollingUpdate")
        .withNewRollingUpdate()
        .withMaxSurge(new IntOrString(gpu ? 0 : 1))
        .withMaxUnavailable(new IntOrString(gpu ? 1 : 0))
        .endRollingUpdate()
        .build();
  }

  private ObjectMeta metadata(String objectName, Map<String, String> annotations) {
    return new ObjectMetaBuilder()
        .withName(objectName)
        .withNamespace(namespace)
        .withLabels(FlotillaNames.workerLabels(name))
        .withAnnotations(annotations.isEmpty() ? null : annotations)
        .withOwnerReferences(ownerReference())
        .build();
  }

  private OwnerReference ownerReference() {
    return OwnerReferences.controller(cr);
  }

  static String templateHash(PodTemplateSpec template) {
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256")
              .digest(Serialization.asJson(template).getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * {@code pvc://claim/some/path}: a claim and the path inside it (starting with a slash, or
   * empty).
   */
  record PvcSource(String claim, String path) {
    static PvcSource parse(String source) {
      if (source == null || !source.startsWith("pvc://")) {
        return null;
      }
      String rest = source.substring("pvc://".length());
      int slash = rest.indexOf('/');
      return slash < 0
          ? new PvcSource(rest, "")
          : new PvcSource(rest.substring(0, slash), rest.substring(slash));
    }
  }
}
