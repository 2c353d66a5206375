package dev.flotilla.operator.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import dev.flotilla.api.crd.Dtype;
import dev.flotilla.api.crd.GpuNodePool;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.operator.Fixtures;
import dev.flotilla.operator.FlotillaNames;
import dev.flotilla.operator.config.ImagePullPolicy;
import dev.flotilla.operator.config.OperatorSettings;
import dev.flotilla.operator.config.SettingsBuilder;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.LocalObjectReference;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ModelDeploymentModelTest {
  private static final OperatorSettings SETTINGS =
      SettingsBuilder.defaults()
          .workerImage("registry.example/worker:1")
          .terminationGracePeriod(Duration.ofSeconds(150))
          .build();
  private static final GpuNodePool POOL = Fixtures.pool("l4-pool", "NVIDIA-L4", "24Gi", 2, 4, 0.7);

  private static ModelDeployment md() {
    ModelDeployment md = Fixtures.model("llama", 2, 3);
    md.getSpec().getModel().setSource("file:///models/llama");
    md.getSpec().getModel().setDtype(Dtype.BF16);
    md.getSpec().getEngine().setMaxBatchSize(16);
    md.getSpec().getEngine().setThreads(4);
    return md;
  }

  private static Container container(Deployment d) {
    return d.getSpec().getTemplate().getSpec().getContainers().get(0);
  }

  @Test
  void unsetAdapterCapLeavesTheWorkerPagingAdaptersInItsKvBudget() {
    ModelDeployment md = md();
    md.getSpec().getEngine().setMaxAdaptersResident(null);
    Deployment d = ModelDeploymentModel.from(md, POOL, SETTINGS).deployment(1);
    assertThat(container(d).getEnv())
        .extracting(EnvVar::getName)
        .doesNotContain("FLOTILLA_MAX_ADAPTERS");
  }

  @Test
  void prefixCacheTurnedOffReachesTheWorker() {
    ModelDeployment md = md();
    md.getSpec().getEngine().setPrefixCache(false);
    Deployment d = ModelDeploymentModel.from(md, POOL, SETTINGS).deployment(1);
    assertThat(container(d).getEnv())
        .filteredOn(e -> e.getName().equals("FLOTILLA_PREFIX_CACHE"))
        .extracting(EnvVar::getValue)
        .containsExactly("false");
  }

  @Test
  void workerEnvironmentCarriesModelAndEngineLimits() {
    Deployment d = ModelDeploymentModel.from(md(), POOL, SETTINGS).deployment(1);
    Map<String, String> env =
        container(d).getEnv().stream().collect(Collectors.toMap(EnvVar::getName, EnvVar::getValue));
    Map<String, String> modelAndEngine =
        Map.of(
            "FLOTILLA_MODEL_SOURCE", "file:///models/llama",
            "FLOTILLA_MODEL_NAME", "models/llama",
            "FLOTILLA_DTYPE", "BF16",
            "FLOTILLA_MAX_BATCH_SIZE", "16",
            "FLOTILLA_MAX_SEQUENCE_LENGTH", "2048",
            "FLOTILLA_KV_CACHE_BYTES", String.valueOf(1L << 30),
            "FLOTILLA_KV_BLOCK_SIZE", "16",
            "FLOTILLA_MAX_ADAPTERS", "2",
            "FLOTILLA_MAX_LORA_RANK", "64",
            "FLOTILLA_THREADS", "4");
    assertThat(env)
        .containsAllEntriesOf(modelAndEngine)
        .containsEntry("FLOTILLA_KV_CACHE_DTYPE", "bf16") // the default
        .containsEntry("FLOTILLA_PREFIX_CACHE", "true") // the default
        .containsEntry("FLOTILLA_DRAIN_GRACE", "140s")
        .containsEntry("FLOTILLA_MTLS_DIR", "/var/run/flotilla/mtls")
        .containsEntry("FLOTILLA_PVC_ROOT", "/var/lib/flotilla/pvc")
        .containsEntry("FLOTILLA_CACHE_DIR", "/var/cache/flotilla")
        .hasSize(modelAndEngine.size() + 6);
    assertThat(container(d).getImage()).isEqualTo("registry.example/worker:1");
  }

  @Test
  void portsProbesAndGracePeriod() {
    Deployment d = ModelDeploymentModel.from(md(), POOL, SETTINGS).deployment(1);
    Container c = container(d);
    assertThat(c.getPorts())
        .extracting(p -> p.getName() + ":" + p.getContainerPort())
        .containsExactly("grpc:9100", "http:8081");
    // The gRPC port admits gateways only (mutual TLS): the kubelet asks over HTTP.
    assertThat(c.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/q/health/ready");
    assertThat(c.getReadinessProbe().getHttpGet().getPort().getStrVal()).isEqualTo("http");
    // a held request waits for this probe after the model is loaded: the kubelet's shortest period
    assertThat(c.getReadinessProbe().getPeriodSeconds()).isEqualTo(1);
    assertThat(c.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/q/health/live");
    assertThat(d.getSpec().getTemplate().getSpec().getTerminationGracePeriodSeconds())
        .isEqualTo(150L);
  }

  @Test
  void gpuResourcesAndPoolPlacement() {
    Deployment d = ModelDeploymentModel.from(md(), POOL, SETTINGS).deployment(2);
    Container c = container(d);
    assertThat(c.getResources().getLimits())
        .containsEntry(FlotillaNames.GPU_RESOURCE, new Quantity("2"))
        .containsEntry("memory", new Quantity("8Gi"));
    assertThat(c.getResources().getRequests())
        .containsEntry(FlotillaNames.GPU_RESOURCE, new Quantity("2"))
        .containsEntry("cpu", new Quantity("2"));
    assertThat(d.getSpec().getTemplate().getSpec().getNodeSelector())
        .isEqualTo(Map.of("flotilla.dev/pool", "l4-pool"));
    assertThat(d.getSpec().getTemplate().getSpec().getTolerations())
        .singleElement()
        .satisfies(t -> assertThat(t.getKey()).isEqualTo("nvidia.com/gpu"));
    assertThat(d.getSpec().getReplicas()).isEqualTo(2);
    assertThat(d.getMetadata().getAnnotations())
        .containsEntry(FlotillaNames.ANNOTATION_POOL, "l4-pool");
    // A GPU roll never needs a GPU beyond what placement reserved.
    assertThat(d.getSpec().getStrategy().getRollingUpdate().getMaxSurge().getIntVal()).isZero();
  }

  @Test
  void cpuWorkersHaveNoGpuNoPoolAndSurge() {
    ModelDeployment md = md();
    md.getSpec().getResources().setGpus(0);
    Deployment d = ModelDeploymentModel.from(md, null, SETTINGS).deployment(1);
    assertThat(container(d).getResources().getLimits())
        .doesNotContainKey(FlotillaNames.GPU_RESOURCE);
    assertThat(d.getSpec().getTemplate().getSpec().getNodeSelector()).isNullOrEmpty();
    assertThat(d.getSpec().getStrategy().getRollingUpdate().getMaxSurge().getIntVal()).isEqualTo(1);
  }

  @Test
  void labelsSelectorAndOwnerReference() {
    Deployment d = ModelDeploymentModel.from(md(), POOL, SETTINGS).deployment(1);
    Map<String, String> selector =
        Map.of(
            "app.kubernetes.io/name",
            "flotilla-worker",
            "app.kubernetes.io/instance",
            "llama",
            "flotilla.dev/model",
            "llama");
    assertThat(d.getMetadata().getName()).isEqualTo("llama-worker");
    assertThat(d.getSpec().getSelector().getMatchLabels()).isEqualTo(selector);
    assertThat(d.getSpec().getTemplate().getMetadata().getLabels()).containsAllEntriesOf(selector);
    assertThat(d.getMetadata().getOwnerReferences())
        .singleElement()
        .satisfies(
            o -> {
              assertThat(o.getKind()).isEqualTo("ModelDeployment");
              assertThat(o.getUid()).isEqualTo("uid-llama");
              assertThat(o.getController()).isTrue();
            });
  }

  @Test
  void headlessServiceExposesGrpcAndHttp() {
    Service s = ModelDeploymentModel.from(md(), POOL, SETTINGS).service();
    assertThat(s.getMetadata().getName()).isEqualTo("llama-workers");
    assertThat(s.getSpec().getClusterIP()).isEqualTo("None");
    assertThat(s.getSpec().getPorts())
        .extracting(p -> p.getName() + ":" + p.getPort())
        .containsExactly("grpc:9100", "http:8081");
    assertThat(s.getSpec().getSelector()).containsEntry("flotilla.dev/model", "llama");
    assertThat(s.getMetadata().getOwnerReferences()).hasSize(1);
  }

  @Test
  void pvcSourceIsMountedAndPointedAt() {
    ModelDeployment md = md();
    md.getSpec().getModel().setSource("pvc://weights/llama/8b");
    Deployment d = ModelDeploymentModel.from(md, POOL, SETTINGS).deployment(1);
    assertThat(d.getSpec().getTemplate().getSpec().getVolumes())
        .filteredOn(v -> v.getName().equals("model"))
        .singleElement()
        .satisfies(
            v -> assertThat(v.getPersistentVolumeClaim().getClaimName()).isEqualTo("weights"));
    assertThat(container(d).getVolumeMounts())
        .filteredOn(m -> m.getName().equals("model"))
        .singleElement()
        .satisfies(m -> assertThat(m.getMountPath()).isEqualTo("/var/lib/flotilla/pvc/weights"));
    assertThat(container(d).getEnv())
        .contains(
            new EnvVar("FLOTILLA_MODEL_SOURCE", "pvc://weights/llama/8b", null),
            new EnvVar("FLOTILLA_PVC_ROOT", "/var/lib/flotilla/pvc", null));
  }

  @Test
  void adapterClaimsAreMountedReadOnlyOncePerClaim() {
    ModelDeployment md = md();
    md.getSpec().getModel().setSource("pvc://weights/llama/8b");
    ModelDeploymentModel model =
        ModelDeploymentModel.from(
            md,
            POOL,
            SETTINGS,
            List.of(
                "pvc://weights/adapters/sql", // the model's claim: mounted already
                "pvc://team-a/legal",
                "pvc://team-a/support",
                "pvc://team.b/x",
                "hf://org/adapter",
                "file:///adapters/y"));
    Deployment d = model.deployment(1);
    assertThat(d.getSpec().getTemplate().getSpec().getVolumes())
        .filteredOn(v -> v.getPersistentVolumeClaim() != null)
        .extracting(
            v -> v.getName(),
            v -> v.getPersistentVolumeClaim().getClaimName(),
            v -> v.getPersistentVolumeClaim().getReadOnly())
        .containsExactly(
            tuple("model", "weights", true),
            tuple("adapters-team-a", "team-a", true),
            tuple(ModelDeploymentModel.adapterVolume("team.b"), "team.b", true));
    assertThat(ModelDeploymentModel.adapterVolume("team.b")).matches("adapters-[0-9a-f]{16}");
    assertThat(container(d).getVolumeMounts())
        .filteredOn(m -> m.getName().startsWith("adapters-") || m.getName().equals("model"))
        .extracting(m -> m.getMountPath(), m -> m.getReadOnly())
        .containsExactly(
            tuple("/var/lib/flotilla/pvc/weights", true),
            tuple("/var/lib/flotilla/pvc/team-a", true),
            tuple("/var/lib/flotilla/pvc/team.b", true));
    assertThat(container(d).getEnv())
        .contains(new EnvVar("FLOTILLA_PVC_ROOT", "/var/lib/flotilla/pvc", null));

    // Another adapter on a claim already mounted leaves the workers alone; a new claim rolls them.
    assertThat(
            ModelDeploymentModel.from(
                    md,
                    POOL,
                    SETTINGS,
                    List.of("pvc://team-a/legal", "pvc://team.b/x", "pvc://team-a/new"))
                .templateHash())
        .isEqualTo(model.templateHash());
    assertThat(
            ModelDeploymentModel.from(md, POOL, SETTINGS, List.of("pvc://team-c/z")).templateHash())
        .isNotEqualTo(model.templateHash());
  }

  @Test
  void downloadsGoToAnEmptyDirOrTheNamedCacheClaim() {
    ModelDeployment md = md();
    md.getSpec().getModel().setSource("hf://meta-llama/Llama-3.1-8B@main");
    Deployment d = ModelDeploymentModel.from(md, POOL, SETTINGS).deployment(1);
    assertThat(d.getSpec().getTemplate().getSpec().getVolumes())
        .filteredOn(v -> v.getName().equals("download-cache"))
        .singleElement()
        .satisfies(v -> assertThat(v.getEmptyDir()).isNotNull());
    assertThat(container(d).getVolumeMounts())
        .filteredOn(m -> m.getName().equals("download-cache"))
        .singleElement()
        .satisfies(
            m -> {
              assertThat(m.getMountPath()).isEqualTo("/var/cache/flotilla");
              assertThat(m.getReadOnly()).isNull();
            });
    assertThat(container(d).getEnv())
        .contains(
            new EnvVar("FLOTILLA_MODEL_SOURCE", "hf://meta-llama/Llama-3.1-8B@main", null),
            new EnvVar("FLOTILLA_CACHE_DIR", "/var/cache/flotilla", null));
    assertThat(container(d).getEnv()).noneMatch(e -> e.getValueFrom() != null);
    assertThat(container(d).getTerminationMessagePolicy()).isEqualTo("FallbackToLogsOnError");

    md.getSpec().getModel().setCacheClaim("model-cache");
    d = ModelDeploymentModel.from(md, POOL, SETTINGS).deployment(1);
    assertThat(d.getSpec().getTemplate().getSpec().getVolumes())
        .filteredOn(v -> v.getName().equals("download-cache"))
        .singleElement()
        .satisfies(
            v -> {
              assertThat(v.getEmptyDir()).isNull();
              assertThat(v.getPersistentVolumeClaim().getClaimName()).isEqualTo("model-cache");
              assertThat(v.getPersistentVolumeClaim().getReadOnly()).isNull();
            });
  }

  @Test
  void credentialsComeFromTheNamedSecretKeyByKeyAndOptional() {
    ModelDeployment md = md();
    md.getSpec().getModel().setSource("s3://models/llama-8b");
    md.getSpec().getModel().setCredentialsSecret("model-credentials");
    Container c = container(ModelDeploymentModel.from(md, POOL, SETTINGS).deployment(1));
    assertThat(c.getEnv())
        .filteredOn(e -> e.getValueFrom() != null)
        .extracting(
            EnvVar::getName,
            e -> e.getValueFrom().getSecretKeyRef().getName(),
            e -> e.getValueFrom().getSecretKeyRef().getKey(),
            e -> e.getValueFrom().getSecretKeyRef().getOptional())
        .containsExactly(
            tuple("HF_TOKEN", "model-credentials", "HF_TOKEN", true),
            tuple("HF_ENDPOINT", "model-credentials", "HF_ENDPOINT", true),
            tuple("AWS_ACCESS_KEY_ID", "model-credentials", "AWS_ACCESS_KEY_ID", true),
            tuple("AWS_SECRET_ACCESS_KEY", "model-credentials", "AWS_SECRET_ACCESS_KEY", true),
            tuple("AWS_SESSION_TOKEN", "model-credentials", "AWS_SESSION_TOKEN", true),
            tuple("AWS_REGION", "model-credentials", "AWS_REGION", true),
            tuple("AWS_ENDPOINT_URL_S3", "model-credentials", "AWS_ENDPOINT_URL_S3", true));
  }

  @Test
  void workersMountTheirCertificateFromTheModelsTlsSecret() {
    Deployment d = ModelDeploymentModel.from(md(), POOL, SETTINGS).deployment(1);
    assertThat(d.getSpec().getTemplate().getSpec().getVolumes())
        .filteredOn(v -> v.getName().equals("mtls"))
        .singleElement()
        .satisfies(
            v -> {
              assertThat(v.getName()).isEqualTo("mtls");
              assertThat(v.getSecret().getSecretName()).isEqualTo("llama-worker-mtls");
              assertThat(v.getSecret().getOptional()).isNull(); // no certificate, no start
            });
    assertThat(container(d).getVolumeMounts())
        .filteredOn(m -> m.getName().equals("mtls"))
        .singleElement()
        .satisfies(
            m -> {
              assertThat(m.getMountPath()).isEqualTo("/var/run/flotilla/mtls");
              assertThat(m.getReadOnly()).isTrue();
            });
  }

  @Test
  void workersRunAsANonRootUserWithNothingToEscalateTo() {
    PodSpec pod =
        ModelDeploymentModel.from(md(), POOL, SETTINGS)
            .deployment(1)
            .getSpec()
            .getTemplate()
            .getSpec();
    assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
    assertThat(pod.getSecurityContext().getRunAsUser()).isEqualTo(10001L);
    assertThat(pod.getSecurityContext().getRunAsGroup()).isEqualTo(10001L);
    assertThat(pod.getSecurityContext().getSeccompProfile().getType()).isEqualTo("RuntimeDefault");

    SecurityContext c = pod.getContainers().get(0).getSecurityContext();
    assertThat(c.getRunAsNonRoot()).isTrue();
    assertThat(c.getRunAsUser()).isEqualTo(10001L);
    assertThat(c.getReadOnlyRootFilesystem()).isTrue();
    assertThat(c.getAllowPrivilegeEscalation()).isFalse();
    assertThat(c.getPrivileged()).isFalse();
    assertThat(c.getCapabilities().getDrop()).containsExactly("ALL");
    assertThat(c.getCapabilities().getAdd()).isNullOrEmpty();
    assertThat(c.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
  }

  @Test
  void workersGetNoServiceAccountToken() {
    PodSpec pod =
        ModelDeploymentModel.from(md(), POOL, SETTINGS)
            .deployment(1)
            .getSpec()
            .getTemplate()
            .getSpec();
    assertThat(pod.getAutomountServiceAccountToken()).isFalse();
    assertThat(pod.getServiceAccountName()).isNull();
  }

  @Test
  void tmpAndTheDownloadCacheAreTheWorkersOnlyWritablePathsAndEmptyDirs() {
    Deployment d = ModelDeploymentModel.from(md(), POOL, SETTINGS).deployment(1);
    assertThat(d.getSpec().getTemplate().getSpec().getVolumes())
        .filteredOn(v -> v.getName().equals("tmp") || v.getName().equals("download-cache"))
        .hasSize(2)
        .allSatisfy(v -> assertThat(v.getEmptyDir()).isNotNull());
    assertThat(container(d).getVolumeMounts())
        .filteredOn(m -> !Boolean.TRUE.equals(m.getReadOnly()))
        .extracting(m -> m.getName() + ":" + m.getMountPath())
        .containsExactlyInAnyOrder("tmp:/tmp", "download-cache:/var/cache/flotilla");
  }

  @Test
  void withoutMutualTlsWorkersAreToldToSpeakPlaintext() {
    OperatorSettings plaintext = SettingsBuilder.defaults().mtlsEnabled(false).build();
    Deployment d = ModelDeploymentModel.from(md(), POOL, plaintext).deployment(1);
    assertThat(d.getSpec().getTemplate().getSpec().getVolumes())
        .noneMatch(v -> v.getSecret() != null);
    assertThat(container(d).getEnv())
        .contains(new EnvVar("FLOTILLA_MTLS_ENABLED", "false", null))
        .noneMatch(e -> e.getName().equals("FLOTILLA_MTLS_DIR"));
  }

  static Stream<Arguments> changes() {
    return Stream.<Arguments>of(
        Arguments.of(
            "replicas pinned",
            false,
            (Consumer<ModelDeployment>) md -> md.getSpec().setReplicas(2)),
        Arguments.of(
            "max replicas",
            false,
            (Consumer<ModelDeployment>) md -> md.getSpec().getScaling().setMaxReplicas(9)),
        Arguments.of(
            "target concurrency",
            false,
            (Consumer<ModelDeployment>) md -> md.getSpec().getScaling().setTargetConcurrency(3)),
        Arguments.of(
            "model source",
            true,
            (Consumer<ModelDeployment>) md -> md.getSpec().getModel().setSource("file:///m2")),
        Arguments.of(
            "engine limit",
            true,
            (Consumer<ModelDeployment>) md -> md.getSpec().getEngine().setMaxLoraRank(16)),
        Arguments.of(
            "image", true, (Consumer<ModelDeployment>) md -> md.getSpec().setImage("other:2")),
        Arguments.of(
            "gpus",
            true,
            (Consumer<ModelDeployment>) md -> md.getSpec().getResources().setGpus(1)));
  }

  @ParameterizedTest(name = "{0} rolls workers: {1}")
  @MethodSource("changes")
  void onlyChangesWorkersMustRestartForChangeTheTemplateHash(
      String what, boolean rolls, Consumer<ModelDeployment> change) {
    String before = ModelDeploymentModel.from(md(), POOL, SETTINGS).templateHash();
    ModelDeployment changed = md();
    change.accept(changed);
    String after = ModelDeploymentModel.from(changed, POOL, SETTINGS).templateHash();
    assertThat(after.equals(before)).isEqualTo(!rolls);
  }

  static Stream<Arguments> gracePeriods() {
    return Stream.of(
        // grace period, drain grace: 10 s kept back for the JVM to stop, or half when shorter
        Arguments.of(Duration.ofSeconds(120), "110s"),
        Arguments.of(Duration.ofMinutes(5), "290s"),
        Arguments.of(Duration.ofSeconds(20), "10s"),
        Arguments.of(Duration.ofSeconds(9), "5s"),
        Arguments.of(Duration.ofSeconds(1), "1s"),
        Arguments.of(Duration.ZERO, "0s"));
  }

  @ParameterizedTest(name = "grace period {0}: drain {1}")
  @MethodSource("gracePeriods")
  void workersDrainForTheGracePeriodLessTimeForTheJvmToStop(Duration grace, String drain) {
    OperatorSettings settings = SettingsBuilder.defaults().terminationGracePeriod(grace).build();
    Deployment d = ModelDeploymentModel.from(md(), POOL, settings).deployment(1);
    assertThat(d.getSpec().getTemplate().getSpec().getTerminationGracePeriodSeconds())
        .isEqualTo(grace.toSeconds());
    assertThat(container(d).getEnv()).contains(new EnvVar("FLOTILLA_DRAIN_GRACE", drain, null));
  }

  @Test
  void workerPodsPullWithTheConfiguredPolicyAndSecrets() {
    OperatorSettings settings =
        SettingsBuilder.defaults()
            .workerImagePullPolicy(ImagePullPolicy.Always)
            .workerImagePullSecrets("registry-credentials", "mirror-credentials")
            .build();
    Deployment d = ModelDeploymentModel.from(md(), POOL, settings).deployment(1);
    assertThat(container(d).getImagePullPolicy()).isEqualTo("Always");
    assertThat(d.getSpec().getTemplate().getSpec().getImagePullSecrets())
        .extracting(LocalObjectReference::getName)
        .containsExactly("registry-credentials", "mirror-credentials");
  }

  @Test
  void byDefaultWorkerImagesArePulledIfNotPresentWithoutSecrets() {
    Deployment d = ModelDeploymentModel.from(md(), POOL, SETTINGS).deployment(1);
    assertThat(container(d).getImagePullPolicy()).isEqualTo("IfNotPresent");
    assertThat(d.getSpec().getTemplate().getSpec().getImagePullSecrets()).isEmpty();
  }

  @Test
  void anotherPoolRollsWorkers() {
    GpuNodePool other = Fixtures.pool("a100", "NVIDIA-A100", "80Gi", 8, 2, 3.0);
    assertThat(ModelDeploymentModel.from(md(), other, SETTINGS).templateHash())
        .isNotEqualTo(ModelDeploymentModel.from(md(), POOL, SETTINGS).templateHash());
  }
}
