package dev.flotilla.operator.config;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Builds {@link OperatorSettings} outside Quarkus (plain tests, benchmark) with the same defaults.
 */
public final class SettingsBuilder {
  private String workerImage = "ghcr.io/flotilla-dev/flotilla-worker:0.1.0";
  private ImagePullPolicy workerImagePullPolicy = ImagePullPolicy.IfNotPresent;
  private List<String> workerImagePullSecrets;
  private List<String> tenantSecretNamespaces;
  private List<String> modelNamespaces;
  private Duration terminationGracePeriod = Duration.ofSeconds(120);
  private String namespace = "flotilla-system";
  private String podName;
  private Duration autoscalerTick = Duration.ofSeconds(2);
  private Duration gatewayExpiry = Duration.ofSeconds(30);
  private Duration recheckInterval = Duration.ofSeconds(60);
  private boolean scaleToZeroEnabled = true;
  private String leaseName = "flotilla-operator";
  private String leaseNamespace;
  private Duration leaseDuration = Duration.ofSeconds(15);
  private Duration renewDeadline = Duration.ofSeconds(10);
  private Duration retryPeriod = Duration.ofSeconds(2);
  private boolean mtlsEnabled = true;
  private Duration workloadLifetime = Duration.ofDays(30);
  private Duration caLifetime = Duration.ofDays(365);
  private Duration caPropagation = Duration.ofHours(1);
  private boolean networkPolicies;
  private String metricsNamespaceLabels;
  private String metricsPodLabels;

  public static SettingsBuilder defaults() {
    return new SettingsBuilder();
  }

  public SettingsBuilder workerImage(String value) {
    workerImage = value;
    return this;
  }

  public SettingsBuilder workerImagePullPolicy(ImagePullPolicy value) {
    workerImagePullPolicy = value;
    return this;
  }

  public SettingsBuilder workerImagePullSecrets(String... names) {
    workerImagePullSecrets = List.of(names);
    return this;
  }

  public SettingsBuilder tenantSecretNamespaces(String... namespaces) {
    tenantSecretNamespaces = List.of(namespaces);
    return this;
  }

  public SettingsBuilder modelNamespaces(String... namespaces) {
    modelNamespaces = List.of(namespaces);
    return this;
  }

  public SettingsBuilder terminationGracePeriod(Duration value) {
    terminationGracePeriod = value;
    return this;
  }

  public SettingsBuilder namespace(String value) {
    namespace = value;
    return this;
  }

  public SettingsBuilder podName(String value) {
    podName = value;
    return this;
  }

  public SettingsBuilder autoscalerTick(Duration value) {
    autoscalerTick = value;
    return this;
  }

  public SettingsBuilder gatewayExpiry(Duration value) {
    gatewayExpiry = value;
    return this;
  }

  public SettingsBuilder recheckInterval(Duration value) {
    recheckInterval = value;
    return this;
  }

  public SettingsBuilder scaleToZeroEnabled(boolean value) {
    scaleToZeroEnabled = value;
    return this;
  }

  public SettingsBuilder leaseName(String value) {
    leaseName = value;
    return this;
  }

  public SettingsBuilder leaseNamespace(String value) {
    leaseNamespace = value;
    return this;
  }

  public SettingsBuilder leaseDuration(Duration value) {
    leaseDuration = value;
    return this;
  }

  public SettingsBuilder renewDeadline(Duration value) {
    renewDeadline = value;
    return this;
  }

  public SettingsBuilder retryPeriod(Duration value) {
    retryPeriod = value;
    return this;
  }

  public SettingsBuilder mtlsEnabled(boolean value) {
    mtlsEnabled = value;
    return this;
  }

  /** Certificate lifetimes, short in tests of renewal and rotation. */
  public SettingsBuilder certificateLifetimes(
      Duration ca, Duration workload, Duration propagation) {
    caLifetime = ca;
    workloadLifetime = workload;
    caPropagation = propagation;
    return this;
  }

  /** NetworkPolicies next to the workers, with who may reach their HTTP port ({@code k=v,...}). */
  public SettingsBuilder networkPolicies(String metricsNamespaceLabels, String metricsPodLabels) {
    networkPolicies = true;
    this.metricsNamespaceLabels = metricsNamespaceLabels;
    this.metricsPodLabels = metricsPodLabels;
    return this;
  }

  public OperatorSettings build() {
    OperatorSettings.Scaling scaling = () -> scaleToZeroEnabled;
    OperatorSettings.NetworkPolicies policies =
        new OperatorSettings.NetworkPolicies() {
          @Override
          public boolean enabled() {
            return networkPolicies;
          }

          @Override
          public String gatewayPodLabels() {
            return "app.kubernetes.io/name=flotilla,app.kubernetes.io/component=gateway";
          }

          @Override
          public String operatorPodLabels() {
            return "app.kubernetes.io/name=flotilla,app.kubernetes.io/component=operator";
          }

          @Override
          public Optional<String> metricsNamespaceLabels() {
            return Optional.ofNullable(metricsNamespaceLabels);
          }

          @Override
          public Optional<String> metricsPodLabels() {
            return Optional.ofNullable(metricsPodLabels);
          }
        };
    OperatorSettings.Mtls mtls =
        new OperatorSettings.Mtls() {
          @Override
          public boolean enabled() {
            return mtlsEnabled;
          }

          @Override
          public String dir() {
            return "/var/run/flotilla/mtls";
          }

          @Override
          public Duration reloadInterval() {
            return Duration.ofSeconds(10);
          }

          @Override
          public String caSecret() {
            return "flotilla-ca";
          }

          @Override
          public String gatewaySecret() {
            return "flotilla-gateway-mtls";
          }

          @Override
          public String operatorSecret() {
            return "flotilla-operator-mtls";
          }

          @Override
          public Duration caLifetime() {
            return caLifetime;
          }

          @Override
          public Duration workloadLifetime() {
            return workloadLifetime;
          }

          @Override
          public Duration caPropagation() {
            return caPropagation;
          }

          @Override
          public Duration checkInterval() {
            return Duration.ofMinutes(1);
          }
        };
    OperatorSettings.LeaderElection election =
        new OperatorSettings.LeaderElection() {
          @Override
          public boolean enabled() {
            return true;
          }

          @Override
          public String leaseName() {
            return leaseName;
          }

          @Override
          public Optional<String> leaseNamespace() {
            return Optional.ofNullable(leaseNamespace);
          }

          @Override
          public Duration leaseDuration() {
            return leaseDuration;
          }

          @Override
          public Duration renewDeadline() {
            return renewDeadline;
          }

          @Override
          public Duration retryPeriod() {
            return retryPeriod;
          }
        };
    return new OperatorSettings() {
      @Override
      public String workerImage() {
        return workerImage;
      }

      @Override
      public ImagePullPolicy workerImagePullPolicy() {
        return workerImagePullPolicy;
      }

      @Override
      public Optional<List<String>> workerImagePullSecrets() {
        return Optional.ofNullable(workerImagePullSecrets);
      }

      @Override
      public Optional<List<String>> tenantSecretNamespaces() {
        return Optional.ofNullable(tenantSecretNamespaces);
      }

      @Override
      public Optional<List<String>> modelNamespaces() {
        return Optional.ofNullable(modelNamespaces);
      }

      @Override
      public Duration terminationGracePeriod() {
        return terminationGracePeriod;
      }

      @Override
      public String namespace() {
        return namespace;
      }

      @Override
      public Optional<String> podName() {
        return Optional.ofNullable(podName);
      }

      @Override
      public Duration autoscalerTick() {
        return autoscalerTick;
      }

      @Override
      public Duration gatewayExpiry() {
        return gatewayExpiry;
      }

      @Override
      public Duration recheckInterval() {
        return recheckInterval;
      }

      @Override
      public Scaling scaling() {
        return scaling;
      }

      @Override
      public LeaderElection leaderElection() {
        return election;
      }

      @Override
      public Mtls mtls() {
        return mtls;
      }

      @Override
      public NetworkPolicies networkPolicies() {
        return policies;
      }
    };
  }
}
