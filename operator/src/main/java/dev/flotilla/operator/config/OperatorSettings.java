package dev.flotilla.operator.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithConverter;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Every setting of the operator, in one typed place ({@code flotilla.operator.*}). Plain tests and
 * the benchmark build one with {@link SettingsBuilder}.
 */
@ConfigMapping(prefix = "flotilla.operator")
public interface OperatorSettings {
  /** Worker image used when a ModelDeployment names none. */
  @WithDefault("ghcr.io/flotilla-dev/flotilla-worker:0.1.0")
  String workerImage();

  /** {@code imagePullPolicy} of worker containers: Always, IfNotPresent or Never. */
  @WithDefault("IfNotPresent")
  @WithConverter(ImagePullPolicy.Converter.class)
  ImagePullPolicy workerImagePullPolicy();

  /**
   * Names of the Secrets worker pods pull their image with (comma-separated). Kubernetes looks them
   * up in the pod's namespace, so each namespace that holds ModelDeployments needs its own copy.
   */
  Optional<List<String>> workerImagePullSecrets();

  /**
   * Time a worker gets between SIGTERM and SIGKILL: long enough to finish the sequences it is
   * streaming (a 2,048-token completion at 20 tokens/s takes about 100 s). The worker drains for
   * this less a margin for its own shutdown (ModelDeploymentModel sets its FLOTILLA_DRAIN_GRACE).
   */
  @WithDefault("120s")
  Duration terminationGracePeriod();

  /** Namespace the operator runs in, for its Lease and Events about cluster-scoped objects. */
  @WithDefault("flotilla-system")
  String namespace();

  /**
   * Name of the operator's own pod, in {@link #namespace()}, which the leader labels for the
   * chart's autoscaler Service; unset outside a pod, where there is nothing to label.
   */
  Optional<String> podName();

  /** How often a model with replicas or recent demand is re-evaluated by the autoscaler. */
  @WithDefault("2s")
  Duration autoscalerTick();

  /** A gateway that has not reported for this long no longer counts towards demand. */
  @WithDefault("30s")
  Duration gatewayExpiry();

  /** How often inputs that cannot be watched (model and adapter files) are looked at again. */
  @WithDefault("60s")
  Duration recheckInterval();

  /**
   * Namespaces whose Secrets labelled {@code flotilla.dev/tenant-keys=true} hold Tenants' API-key
   * hashes; unset: every namespace. The operator watches only those Secrets to check Tenants, and a
   * Tenant that names a Secret elsewhere is not Ready.
   */
  Optional<List<String>> tenantSecretNamespaces();

  /**
   * Namespaces whose ModelDeployments the operator runs workers for; unset: every namespace. Each
   * model's workers' TLS Secret is written next to them, so the chart grants Secret access in these
   * namespaces only when it lists any. A ModelDeployment elsewhere gets no workers and a Ready
   * condition that says why ({@code NamespaceNotManaged}).
   */
  Optional<List<String>> modelNamespaces();

  Scaling scaling();

  LeaderElection leaderElection();

  /** Cluster-wide autoscaling policy; each model's own settings are its spec.scaling. */
  interface Scaling {
    /**
     * Whether the autoscaler may take an idle model to zero replicas. When false every model keeps
     * at least one worker whatever its minReplicas says, so no request waits for a cold start; only
     * an explicit zero (maxReplicas 0, or spec.replicas pinned to 0) stops a model then.
     */
    @WithDefault("true")
    boolean scaleToZeroEnabled();
  }

  interface LeaderElection {
    /** Off only for a single replica; the chart sets it from operator.leaderElection.enabled. */
    @WithDefault("true")
    boolean enabled();

    @WithDefault("flotilla-operator")
    String leaseName();

    /** Namespace of the Lease; the operator's namespace when unset. */
    Optional<String> leaseNamespace();

    @WithDefault("15s")
    Duration leaseDuration();

    @WithDefault("10s")
    Duration renewDeadline();

    @WithDefault("2s")
    Duration retryPeriod();
  }

  Mtls mtls();

  /**
   * Mutual TLS on the internal links: the CA the operator keeps, the certificates it issues from
   * it, and its own demand-stream server (gRPC 9200). Off only in tests that speak plaintext.
   */
  interface Mtls {
    @WithDefault("true")
    boolean enabled();

    /**
     * Where this operator's serving certificate is mounted (the Secret {@link #operatorSecret}).
     */
    @WithDefault("/var/run/flotilla/mtls")
    String dir();

    /** How often the mounted files are looked at again for a renewed certificate. */
    @WithDefault("10s")
    Duration reloadInterval();

    /** The Secret in the operator's namespace holding the CA and its key. */
    @WithDefault("flotilla-ca")
    String caSecret();

    /** The TLS Secret (operator's namespace) the gateways mount: their client certificate. */
    @WithDefault("flotilla-gateway-mtls")
    String gatewaySecret();

    /** The TLS Secret (operator's namespace) the operator mounts: its demand-stream certificate. */
    @WithDefault("flotilla-operator-mtls")
    String operatorSecret();

    /** Lifetime of a CA; a successor is made at two thirds of it. */
    @WithDefault("8760h")
    Duration caLifetime();

    /** Lifetime of a gateway, operator or worker certificate; renewed at two thirds of it. */
    @WithDefault("720h")
    Duration workloadLifetime();

    /** How long a new CA is trusted by everyone before it signs. */
    @WithDefault("1h")
    Duration caPropagation();

    /** How often the leader checks the CA and the gateway's and operator's certificates. */
    @WithDefault("1m")
    Duration checkInterval();
  }

  NetworkPolicies networkPolicies();

  /**
   * The NetworkPolicy the operator puts next to each worker Deployment: only gateway pods reach the
   * workers' gRPC port; their HTTP port (health, metrics) admits what {@link
   * #metricsNamespaceLabels} and {@link #metricsPodLabels} select. Needs a CNI that enforces
   * NetworkPolicies.
   */
  interface NetworkPolicies {
    /** The chart sets it from networkPolicy.enabled; off by default outside the chart. */
    @WithDefault("false")
    boolean enabled();

    /**
     * Labels of the gateway pods ({@code k=v,k=v}), in the operator's namespace: the only pods that
     * reach a worker's gRPC port.
     */
    @WithDefault("app.kubernetes.io/name=flotilla,app.kubernetes.io/component=gateway")
    String gatewayPodLabels();

    /**
     * Labels of the operator's pods ({@code k=v,k=v}), in the operator's namespace: allowed on
     * workers' HTTP port whatever the metrics selectors say, to read how far a model has loaded.
     */
    @WithDefault("app.kubernetes.io/name=flotilla,app.kubernetes.io/component=operator")
    String operatorPodLabels();

    /** Labels of the namespaces allowed on workers' HTTP port ({@code k=v,...}); empty: all. */
    Optional<String> metricsNamespaceLabels();

    /** Labels of the pods allowed on workers' HTTP port ({@code k=v,...}); empty: all. */
    Optional<String> metricsPodLabels();
  }
}
