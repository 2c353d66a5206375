package dev.flotilla.chart;

import static dev.flotilla.chart.FlotillaChart.NAMESPACE;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.flotilla.chart.FlotillaChart.Rendered;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HTTPGetAction;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The operator and gateway Deployments, Services and the optional PDB and ServiceMonitors. */
class ChartWorkloadsTest {
  private static final String BOTH = "dev.flotilla.chart.FlotillaChart#bothRenders";

  @ParameterizedTest
  @MethodSource(BOTH)
  void rendersOneDeploymentServiceAndServiceAccountPerComponent(Rendered rendered) {
    for (Class<? extends HasMetadata> kind : List.of(Deployment.class, ServiceAccount.class)) {
      assertThat(rendered.all(kind))
          .extracting(o -> o.getMetadata().getLabels().get("app.kubernetes.io/component"))
          .containsExactlyInAnyOrder("operator", "gateway");
    }
    assertThat(rendered.all(Service.class))
        .extracting(o -> o.getMetadata().getLabels().get("app.kubernetes.io/component"))
        .containsExactlyInAnyOrder("operator", "gateway", "gateway-metrics", "autoscaler");
  }

  @ParameterizedTest
  @MethodSource(BOTH)
  void everyObjectCarriesTheStandardLabelsAndNamespacedOnesLiveInTheReleaseNamespace(
      Rendered rendered) {
    assertThat(rendered.objects())
        .isNotEmpty()
        .allSatisfy(
            o -> {
              assertThat(o.getMetadata().getLabels())
                  .containsKeys(
                      "app.kubernetes.io/name",
                      "app.kubernetes.io/instance",
                      "app.kubernetes.io/component",
                      "app.kubernetes.io/version",
                      "app.kubernetes.io/part-of",
                      "app.kubernetes.io/managed-by",
                      "helm.sh/chart");
              boolean clusterScoped = o.getKind().startsWith("Cluster");
              // The Roles that let the gateway and the operator read API-key Secrets live in the
              // namespaces that hold them (ChartRbacTest).
              boolean tenantKeys =
                  "tenant-keys"
                      .equals(o.getMetadata().getLabels().get("app.kubernetes.io/component"));
              if (!tenantKeys) {
                assertThat(o.getMetadata().getNamespace())
                    .isEqualTo(clusterScoped ? null : NAMESPACE);
              }
            });
  }

  @ParameterizedTest
  @MethodSource(BOTH)
  void selectorsMatchThePodsAndServicesSelectTheirComponent(Rendered rendered) {
    for (Deployment deployment : rendered.all(Deployment.class)) {
      Map<String, String> podLabels = deployment.getSpec().getTemplate().getMetadata().getLabels();
      assertThat(podLabels)
          .containsAllEntriesOf(deployment.getSpec().getSelector().getMatchLabels());
      Service service = rendered.one(Service.class, deployment.getMetadata().getName());
      assertThat(service.getSpec().getSelector())
          .isEqualTo(deployment.getSpec().getSelector().getMatchLabels());
      assertThat(deployment.getSpec().getTemplate().getSpec().getServiceAccountName())
          .isEqualTo(deployment.getMetadata().getName());
    }
  }

  /**
   * The gateway divides each tenant's limits by its ready replicas: it must count exactly the pods
   * of its own Deployment, the ones its Service sends requests to.
   */
  @ParameterizedTest
  @MethodSource(BOTH)
  void theGatewayCountsTheReplicasOfItsOwnDeployment(Rendered rendered) {
    Deployment gateway =
        rendered.all(Deployment.class).stream()
            .filter(
                d ->
                    "gateway"
                        .equals(d.getMetadata().getLabels().get("app.kubernetes.io/component")))
            .findFirst()
            .orElseThrow();
    Map<String, String> env =
        gateway.getSpec().getTemplate().getSpec().getContainers().get(0).getEnv().stream()
            .filter(e -> e.getValue() != null)
            .collect(Collectors.toMap(EnvVar::getName, EnvVar::getValue));
    Map<String, String> selector =
        Arrays.stream(env.get("FLOTILLA_GATEWAY_REPLICAS_SELECTOR").split(","))
            .map(term -> term.split("=", 2))
            .collect(Collectors.toMap(kv -> kv[0], kv -> kv[1]));
    assertThat(selector).isEqualTo(gateway.getSpec().getSelector().getMatchLabels());
    assertThat(env).containsEntry("FLOTILLA_GATEWAY_REPLICAS_NAMESPACE", NAMESPACE);
  }

  @ParameterizedTest
  @MethodSource(BOTH)
  void everyContainerHasHealthProbesOnItsHttpPort(Rendered rendered) {
    assertThat(containers(rendered))
        .hasSize(2)
        .allSatisfy(
            c -> {
              assertThat(c.getPorts()).extracting(ContainerPort::getName).contains("http");
              assertHttpProbe(c.getLivenessProbe(), "/q/health/live");
              assertHttpProbe(c.getReadinessProbe(), "/q/health/ready");
            });
  }

  @ParameterizedTest
  @MethodSource(BOTH)
  void everyImageIsPinnedAndPulledIfNotPresent(Rendered rendered) {
    assertThat(containers(rendered))
        .allSatisfy(
            c -> {
              assertPinned(c.getImage());
              assertThat(c.getImagePullPolicy()).isEqualTo("IfNotPresent");
            });
    assertPinned(env(operator(rendered)).get("FLOTILLA_OPERATOR_WORKER_IMAGE"));
  }

  @ParameterizedTest
  @MethodSource(BOTH)
  void podsRunHardenedWithAWritableTmp(Rendered rendered) {
    for (Deployment deployment : rendered.all(Deployment.class)) {
      PodSpec pod = deployment.getSpec().getTemplate().getSpec();
      assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
      assertThat(pod.getSecurityContext().getSeccompProfile().getType())
          .isEqualTo("RuntimeDefault");
      assertThat(pod.getContainers())
          .allSatisfy(
              c -> {
                assertThat(c.getSecurityContext().getRunAsNonRoot()).isTrue();
                assertThat(c.getSecurityContext().getRunAsUser()).isEqualTo(10001L);
                assertThat(c.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
                assertThat(c.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
                assertThat(c.getSecurityContext().getPrivileged()).isFalse();
                assertThat(c.getSecurityContext().getCapabilities().getDrop())
                    .containsExactly("ALL");
                assertThat(c.getSecurityContext().getCapabilities().getAdd()).isNullOrEmpty();
                assertThat(c.getSecurityContext().getSeccompProfile().getType())
                    .isEqualTo("RuntimeDefault");
                String tmpVolume =
                    c.getVolumeMounts().stream()
                        .filter(m -> m.getMountPath().equals("/tmp"))
                        .findFirst()
                        .orElseThrow()
                        .getName();
                assertThat(volume(pod, tmpVolume).getEmptyDir()).isNotNull();
              });
    }
  }

  @ParameterizedTest
  @MethodSource(BOTH)
  void everyContainerRequestsAndLimitsResources(Rendered rendered) {
    assertThat(containers(rendered))
        .allSatisfy(
            c -> {
              assertThat(c.getResources().getRequests()).containsKeys("cpu", "memory");
              assertThat(c.getResources().getLimits()).containsKey("memory");
            });
  }

  @Test
  void defaultsRunPinnedToTheAppVersionWithAnEmptyDirSpoolAndNoOptionalObjects()
      throws IOException {
    Rendered rendered = FlotillaChart.renderDefaults();
    String appVersion =
        new ObjectMapper(new YAMLFactory())
            .readTree(FlotillaChart.chartDir().resolve("Chart.yaml").toFile())
            .get("appVersion")
            .asText();
    Deployment operator = rendered.one(Deployment.class, "flotilla-operator");
    Deployment gateway = rendered.one(Deployment.class, "flotilla-gateway");

    assertThat(container(operator).getImage())
        .isEqualTo("ghcr.io/flotilla-dev/flotilla-operator:" + appVersion);
    assertThat(container(gateway).getImage())
        .isEqualTo("ghcr.io/flotilla-dev/flotilla-gateway:" + appVersion);
    assertThat(env(operator))
        .containsEntry(
            "FLOTILLA_OPERATOR_WORKER_IMAGE", "ghcr.io/flotilla-dev/flotilla-worker:" + appVersion)
        .containsEntry("FLOTILLA_OPERATOR_LEADER_ELECTION_ENABLED", "true")
        .containsEntry("FLOTILLA_OPERATOR_LEADER_ELECTION_LEASE_NAME", "flotilla-operator")
        .containsEntry("FLOTILLA_OPERATOR_LEADER_ELECTION_LEASE_NAMESPACE", NAMESPACE)
        .containsEntry("FLOTILLA_OPERATOR_NAMESPACE", "<from>")
        .containsEntry("FLOTILLA_OPERATOR_TERMINATION_GRACE_PERIOD", "120s")
        .containsEntry("FLOTILLA_OPERATOR_SCALING_SCALE_TO_ZERO_ENABLED", "true")
        .containsEntry("FLOTILLA_OPERATOR_WORKER_IMAGE_PULL_POLICY", "IfNotPresent")
        .containsEntry("FLOTILLA_OPERATOR_WORKER_IMAGE_PULL_SECRETS", "");
    assertThat(env(gateway))
        .containsEntry("FLOTILLA_GATEWAY_USAGE_TOPIC", "flotilla.usage")
        .containsEntry("FLOTILLA_GATEWAY_USAGE_KAFKA_BOOTSTRAP_SERVERS", "")
        .containsEntry("FLOTILLA_GATEWAY_USAGE_SPOOL_DIR", "/var/lib/flotilla/spool")
        .containsEntry("FLOTILLA_GATEWAY_USAGE_SPOOL_MAX_BYTES", "805306368")
        .containsEntry("FLOTILLA_GATEWAY_USAGE_DRAIN_TIMEOUT", "50s")
        .containsEntry("FLOTILLA_GATEWAY_PREFIX_AFFINITY", "true")
        .containsEntry(
            "FLOTILLA_GATEWAY_AUTOSCALER_ADDRESS",
            "flotilla-operator-autoscaler." + NAMESPACE + ".svc:9200");
    assertThat(operator.getSpec().getReplicas()).isEqualTo(2);
    assertThat(gateway.getSpec().getReplicas()).isEqualTo(2);
    assertThat(operator.getSpec().getTemplate().getSpec().getTerminationGracePeriodSeconds())
        .isEqualTo(30L);
    assertThat(gateway.getSpec().getTemplate().getSpec().getTerminationGracePeriodSeconds())
        .isEqualTo(60L);
    assertThat(operator.getSpec().getTemplate().getSpec().getImagePullSecrets()).isNullOrEmpty();
    Volume spool = volume(gateway.getSpec().getTemplate().getSpec(), "spool");
    assertThat(spool.getEmptyDir().getSizeLimit().toString()).isEqualTo("1Gi");
    assertThat(spool.getPersistentVolumeClaim()).isNull();
    assertThat(rendered.all(PodDisruptionBudget.class)).isEmpty();
    assertThat(rendered.ofKind("ServiceMonitor")).isEmpty();
  }

  @ParameterizedTest
  @MethodSource(BOTH)
  void gatewayAndOperatorMountTheTlsSecretsTheOperatorKeeps(Rendered rendered) {
    Deployment operator = operator(rendered);
    Deployment gateway =
        rendered.all(Deployment.class).stream()
            .filter(d -> d != operator)
            .findFirst()
            .orElseThrow();
    String prefix = operator.getMetadata().getName().replace("-operator", "");
    Map<String, String> operatorEnv = env(operator);

    assertThat(operatorEnv)
        .containsEntry("FLOTILLA_OPERATOR_MTLS_CA_SECRET", prefix + "-ca")
        .containsEntry("FLOTILLA_OPERATOR_MTLS_GATEWAY_SECRET", prefix + "-gateway-mtls")
        .containsEntry("FLOTILLA_OPERATOR_MTLS_OPERATOR_SECRET", prefix + "-operator-mtls")
        .containsEntry("FLOTILLA_OPERATOR_MTLS_CA_LIFETIME", "8760h")
        .containsEntry("FLOTILLA_OPERATOR_MTLS_WORKLOAD_LIFETIME", "720h")
        .containsEntry("FLOTILLA_OPERATOR_MTLS_CA_PROPAGATION", "1h");
    for (Deployment d : List.of(operator, gateway)) {
      String component = d == operator ? "operator" : "gateway";
      Volume mtls = volume(d.getSpec().getTemplate().getSpec(), "mtls");
      assertThat(mtls.getSecret().getSecretName())
          .isEqualTo(
              operatorEnv.get("FLOTILLA_OPERATOR_MTLS_" + component.toUpperCase() + "_SECRET"));
      assertThat(mtls.getSecret().getOptional())
          .as("it exists only once the operator has issued it")
          .isTrue();
      assertThat(container(d).getVolumeMounts())
          .anySatisfy(
              m -> {
                assertThat(m.getName()).isEqualTo("mtls");
                assertThat(m.getReadOnly()).isTrue();
                assertThat(env(d))
                    .containsEntry(
                        "FLOTILLA_" + component.toUpperCase() + "_MTLS_DIR", m.getMountPath());
              });
    }
  }

  @Test
  void servicesExposeTheComponentPorts() {
    Rendered rendered = FlotillaChart.renderDefaults();

    assertThat(ports(rendered.one(Service.class, "flotilla-operator")))
        .isEqualTo(Map.of("http", 8082, "grpc", 9200));
    assertThat(ports(rendered.one(Service.class, "flotilla-gateway")))
        .isEqualTo(Map.of("grpc", 9000, "http", 8080));
    assertThat(rendered.one(Service.class, "flotilla-gateway").getSpec().getType())
        .isEqualTo("ClusterIP");
    assertThat(ports(rendered.one(Service.class, "flotilla-gateway-metrics")))
        .isEqualTo(Map.of("metrics", 9090));
    assertThat(rendered.all(Service.class))
        .flatExtracting(s -> s.getSpec().getPorts())
        .allSatisfy(p -> assertThat(p.getTargetPort()).isEqualTo(new IntOrString(p.getName())));
    assertThat(containerPorts(rendered.one(Deployment.class, "flotilla-operator")))
        .isEqualTo(Map.of("http", 8082, "grpc", 9200));
    assertThat(containerPorts(rendered.one(Deployment.class, "flotilla-gateway")))
        .isEqualTo(Map.of("grpc", 9000, "http", 8080, "metrics", 9090));
  }

  @ParameterizedTest
  @MethodSource(BOTH)
  void gatewayMetricsStayOffTheClientServiceWhateverItsType(Rendered rendered) {
    Deployment gateway = gateway(rendered);
    String name = gateway.getMetadata().getName();
    Service client = rendered.one(Service.class, name);
    Service metrics = rendered.one(Service.class, name + "-metrics");

    assertThat(client.getSpec().getPorts())
        .extracting(ServicePort::getName)
        .doesNotContain("metrics");
    assertThat(client.getSpec().getPorts())
        .extracting(p -> p.getTargetPort().getStrVal())
        .doesNotContain("metrics");
    assertThat(metrics.getSpec().getType()).isEqualTo("ClusterIP");
    assertThat(metrics.getSpec().getSelector())
        .isEqualTo(gateway.getSpec().getSelector().getMatchLabels());
    assertThat(ports(metrics)).isEqualTo(Map.of("metrics", 9090));
  }

  @Test
  void gatewaysReportDemandThroughAServiceThatSelectsOnlyTheLeadingOperator() {
    Rendered rendered = FlotillaChart.renderDefaults();
    Service autoscaler = rendered.one(Service.class, "flotilla-operator-autoscaler");
    Deployment operator = rendered.one(Deployment.class, "flotilla-operator");

    assertThat(autoscaler.getSpec().getSelector())
        .containsAllEntriesOf(operator.getSpec().getSelector().getMatchLabels())
        .containsEntry("flotilla.dev/autoscaler-leader", "true")
        .hasSize(operator.getSpec().getSelector().getMatchLabels().size() + 1);
    assertThat(ports(autoscaler)).isEqualTo(Map.of("grpc", 9200));
    assertThat(env(rendered.one(Deployment.class, "flotilla-gateway")))
        .containsEntry(
            "FLOTILLA_GATEWAY_AUTOSCALER_ADDRESS",
            "flotilla-operator-autoscaler." + NAMESPACE + ".svc:9200");
    assertThat(env(operator)).containsEntry("FLOTILLA_OPERATOR_LEADER_ELECTION_ENABLED", "true");
    // The leader labels its own pod, found by name in its own namespace.
    assertThat(fieldRefs(operator))
        .containsEntry("FLOTILLA_OPERATOR_POD_NAME", "metadata.name")
        .containsEntry("FLOTILLA_OPERATOR_NAMESPACE", "metadata.namespace");

    Rendered single =
        Rendered.parse(
            FlotillaChart.template(
                "flotilla",
                null,
                Map.of("operator.leaderElection.enabled", false, "operator.replicas", 1)));
    assertThat(single.one(Service.class, "flotilla-operator-autoscaler").getSpec().getSelector())
        .as("one replica without an election leads alone and never labels its pod")
        .isEqualTo(
            single
                .one(Deployment.class, "flotilla-operator")
                .getSpec()
                .getSelector()
                .getMatchLabels());
    assertThat(env(single.one(Deployment.class, "flotilla-operator")))
        .containsEntry("FLOTILLA_OPERATOR_LEADER_ELECTION_ENABLED", "false");
  }

  @Test
  void customValuesReachEveryObjectTheyConcern() {
    Rendered rendered = FlotillaChart.renderCustom();
    Deployment operator = rendered.one(Deployment.class, "prod-flotilla-operator");
    Deployment gateway = rendered.one(Deployment.class, "prod-flotilla-gateway");

    assertThat(container(operator).getImage())
        .isEqualTo("registry.example.com/ml/flotilla-dev/flotilla-operator:0.2.0-rc1");
    assertThat(container(gateway).getImage())
        .isEqualTo("registry.example.com/ml/flotilla-dev/flotilla-gateway:0.2.0-rc1");
    assertThat(env(operator))
        .containsEntry(
            "FLOTILLA_OPERATOR_WORKER_IMAGE",
            "registry.example.com/ml/flotilla-dev/flotilla-worker:0.2.0-rc1")
        .containsEntry("FLOTILLA_OPERATOR_WORKER_IMAGE_PULL_SECRETS", "registry-credentials")
        .containsEntry("FLOTILLA_OPERATOR_LEADER_ELECTION_LEASE_NAME", "flotilla-leader")
        .containsEntry("FLOTILLA_OPERATOR_SCALING_SCALE_TO_ZERO_ENABLED", "false");
    assertThat(env(gateway))
        .containsEntry(
            "FLOTILLA_GATEWAY_USAGE_KAFKA_BOOTSTRAP_SERVERS",
            "kafka-0.kafka:9093,kafka-1.kafka:9093")
        .containsEntry(
            "FLOTILLA_GATEWAY_AUTOSCALER_ADDRESS",
            "prod-flotilla-operator-autoscaler." + NAMESPACE + ".svc:9200")
        .containsEntry("FLOTILLA_GATEWAY_PREFIX_AFFINITY", "false");
    for (Deployment deployment : List.of(operator, gateway)) {
      assertThat(deployment.getSpec().getTemplate().getSpec().getImagePullSecrets())
          .extracting(r -> r.getName())
          .containsExactly("registry-credentials");
    }
    assertThat(operator.getSpec().getReplicas()).isEqualTo(3);
    assertThat(gateway.getSpec().getReplicas()).isEqualTo(3);
    assertThat(operator.getSpec().getTemplate().getSpec().getTerminationGracePeriodSeconds())
        .isEqualTo(45L);
    assertThat(gateway.getSpec().getTemplate().getSpec().getTerminationGracePeriodSeconds())
        .isEqualTo(120L);
    assertThat(container(gateway).getResources().getRequests()).hasToString("{cpu=1, memory=1Gi}");
    assertThat(container(gateway).getResources().getLimits()).hasToString("{cpu=2, memory=2Gi}");

    Volume spool = volume(gateway.getSpec().getTemplate().getSpec(), "spool");
    assertThat(spool.getPersistentVolumeClaim().getClaimName()).isEqualTo("flotilla-usage-spool");
    assertThat(spool.getEmptyDir()).isNull();
    assertThat(fieldRefs(gateway))
        .as("the spool folder is not named after the pod: a replacement adopts it")
        .doesNotContainKey("POD_NAME");
    assertThat(env(gateway)).containsEntry("FLOTILLA_GATEWAY_USAGE_DRAIN_TIMEOUT", "110s");
    assertThat(container(gateway).getVolumeMounts())
        .anySatisfy(
            m -> {
              assertThat(m.getName()).isEqualTo("spool");
              assertThat(env(gateway).get("FLOTILLA_GATEWAY_USAGE_SPOOL_DIR"))
                  .isEqualTo(m.getMountPath());
            });

    Service service = rendered.one(Service.class, "prod-flotilla-gateway");
    assertThat(service.getSpec().getType()).isEqualTo("LoadBalancer");
    assertThat(ports(service)).isEqualTo(Map.of("grpc", 443, "http", 8080));
    assertThat(rendered.one(Service.class, "prod-flotilla-gateway-metrics").getSpec().getType())
        .isEqualTo("ClusterIP");

    PodDisruptionBudget pdb = rendered.one(PodDisruptionBudget.class, "prod-flotilla-gateway");
    assertThat(pdb.getSpec().getMinAvailable()).isEqualTo(new IntOrString(2));
    assertThat(pdb.getSpec().getSelector().getMatchLabels())
        .isEqualTo(gateway.getSpec().getSelector().getMatchLabels());
  }

  @Test
  void serviceMonitorsScrapeEachComponentsMetricsWhenEnabled() {
    Rendered rendered = FlotillaChart.renderCustom();
    List<HasMetadata> monitors = rendered.ofKind("ServiceMonitor");

    assertThat(monitors)
        .extracting(m -> m.getMetadata().getName())
        .containsExactlyInAnyOrder("prod-flotilla-operator", "prod-flotilla-gateway");
    assertThat(monitors)
        .allSatisfy(
            m -> {
              assertThat(m.getApiVersion()).isEqualTo("monitoring.coreos.com/v1");
              assertThat(m.getMetadata().getLabels()).containsEntry("release", "prometheus");
              GenericKubernetesResource monitor = (GenericKubernetesResource) m;
              Map<String, String> selector = monitor.get("spec", "selector", "matchLabels");
              List<Service> selected =
                  rendered.all(Service.class).stream()
                      .filter(
                          s ->
                              s.getMetadata()
                                  .getLabels()
                                  .entrySet()
                                  .containsAll(selector.entrySet()))
                      .toList();
              assertThat(selected).as("Services %s selects", m.getMetadata().getName()).hasSize(1);
              Service service = selected.get(0);
              boolean gateway = m.getMetadata().getName().endsWith("-gateway");
              assertThat(service.getMetadata().getName())
                  .isEqualTo(m.getMetadata().getName() + (gateway ? "-metrics" : ""));
              String port = gateway ? "metrics" : "http";
              assertThat(monitor.<List<String>>get("spec", "namespaceSelector", "matchNames"))
                  .containsExactly(NAMESPACE);
              List<Map<String, Object>> endpoints = monitor.get("spec", "endpoints");
              assertThat(endpoints)
                  .singleElement()
                  .satisfies(
                      e -> {
                        assertThat(e)
                            .containsEntry("port", port)
                            .containsEntry("path", "/q/metrics")
                            .containsEntry("interval", "15s");
                        assertThat(service.getSpec().getPorts())
                            .extracting(ServicePort::getName)
                            .contains(port);
                      });
            });
  }

  private static void assertHttpProbe(Probe probe, String path) {
    assertThat(probe).as("probe on %s", path).isNotNull();
    HTTPGetAction get = probe.getHttpGet();
    assertThat(get.getPath()).isEqualTo(path);
    assertThat(get.getPort()).isEqualTo(new IntOrString("http"));
  }

  private static void assertPinned(String image) {
    String lastSegment = image.substring(image.lastIndexOf('/') + 1);
    assertThat(lastSegment).as("image %s has a tag", image).contains(":");
    String tag = lastSegment.substring(lastSegment.indexOf(':') + 1);
    assertThat(tag).as("tag of %s", image).isNotBlank().isNotEqualTo("latest");
    assertThat(image).doesNotEndWith(":latest");
  }

  private static List<Container> containers(Rendered rendered) {
    return rendered.all(Deployment.class).stream()
        .flatMap(d -> d.getSpec().getTemplate().getSpec().getContainers().stream())
        .toList();
  }

  private static Container container(Deployment deployment) {
    List<Container> containers = deployment.getSpec().getTemplate().getSpec().getContainers();
    assertThat(containers).hasSize(1);
    return containers.get(0);
  }

  private static Deployment operator(Rendered rendered) {
    return component(rendered, "operator");
  }

  private static Deployment gateway(Rendered rendered) {
    return component(rendered, "gateway");
  }

  private static Deployment component(Rendered rendered, String component) {
    return rendered.all(Deployment.class).stream()
        .filter(
            d -> component.equals(d.getMetadata().getLabels().get("app.kubernetes.io/component")))
        .findFirst()
        .orElseThrow();
  }

  /** Env values by name; those read from the downward API map to "<from>". */
  private static Map<String, String> env(Deployment deployment) {
    return container(deployment).getEnv().stream()
        .collect(
            Collectors.toMap(EnvVar::getName, e -> e.getValue() == null ? "<from>" : e.getValue()));
  }

  /** The downward-API paths of the variables that have one. */
  private static Map<String, String> fieldRefs(Deployment deployment) {
    return container(deployment).getEnv().stream()
        .filter(e -> e.getValueFrom() != null && e.getValueFrom().getFieldRef() != null)
        .collect(
            Collectors.toMap(EnvVar::getName, e -> e.getValueFrom().getFieldRef().getFieldPath()));
  }

  private static Volume volume(PodSpec pod, String name) {
    return pod.getVolumes().stream()
        .filter(v -> v.getName().equals(name))
        .findFirst()
        .orElseThrow();
  }

  private static Map<String, Integer> ports(Service service) {
    return service.getSpec().getPorts().stream()
        .collect(Collectors.toMap(ServicePort::getName, ServicePort::getPort));
  }

  private static Map<String, Integer> containerPorts(Deployment deployment) {
    return container(deployment).getPorts().stream()
        .collect(Collectors.toMap(ContainerPort::getName, ContainerPort::getContainerPort));
  }
}
