package dev.flotilla.operator;

import dev.flotilla.operator.autoscaler.DemandStore;
import dev.flotilla.operator.certs.CaSecretReconciler;
import dev.flotilla.operator.certs.CurrentCa;
import dev.flotilla.operator.config.OperatorSettings;
import dev.flotilla.operator.leader.LeaderPodLabel;
import dev.flotilla.operator.leader.Leadership;
import dev.flotilla.operator.placement.PlacementBook;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfigurationBuilder;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.runtime.configuration.ConfigUtils;
import jakarta.enterprise.context.Dependent;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.time.Clock;
import java.util.List;
import org.eclipse.microprofile.config.ConfigProvider;

/** The operator's shared singletons; the reconcilers get them through their constructors. */
public class OperatorBeans {
  @Produces
  @Singleton
  Clock clock() {
    return Clock.systemUTC();
  }

  @Produces
  @Singleton
  DemandStore demandStore() {
    return new DemandStore();
  }

  @Produces
  @Singleton
  PlacementBook placementBook() {
    return new PlacementBook();
  }

  @Produces
  @Singleton
  CurrentCa currentCa() {
    return new CurrentCa();
  }

  /** The internal CA and the control plane's certificates; it writes only while leading. */
  @Produces
  @Singleton
  CaSecretReconciler caSecretReconciler(
      KubernetesClient client,
      OperatorSettings settings,
      Leadership leadership,
      CurrentCa ca,
      Clock clock) {
    return new CaSecretReconciler(client, settings, leadership, ca, clock);
  }

  void startCertificates(
      @Observes StartupEvent event, OperatorSettings settings, CaSecretReconciler ca) {
    if (settings.mtls().enabled()) {
      ca.start();
    }
  }

  void stopCertificates(@Disposes CaSecretReconciler ca) {
    ca.close();
  }

  /**
   * Whether this replica leads. An election runs when it is enabled ({@code
   * flotilla.operator.leader-election.enabled}) and the running profile is one that {@code
   * quarkus.operator-sdk.activate-leader-election-for-profiles} lists (prod by default); otherwise
   * this replica leads alone.
   */
  @Produces
  @Singleton
  Leadership leadership(OperatorSettings settings) {
    return electionActive(settings) ? Leadership.elected() : Leadership.alone();
  }

  /**
   * One leader among the operator's replicas, through a Lease: standbys keep their informers warm
   * and take over when the lease lapses. The new leader labels its pod so that the chart's
   * autoscaler Service sends gateways' demand to it. Null (no election) when disabled.
   */
  @Produces
  @Dependent
  LeaderElectionConfiguration leaderElection(
      OperatorSettings settings, Leadership leadership, KubernetesClient client) {
    if (!electionActive(settings)) {
      return null;
    }
    LeaderPodLabel label =
        new LeaderPodLabel(client, settings.namespace(), settings.podName().orElse(null));
    return leaderElection(settings, null, leadership.callbacks(label::apply));
  }

  /** The Lease settings; {@code identity} null means the pod's hostname. */
  public static LeaderElectionConfiguration leaderElection(
      OperatorSettings settings, String identity, LeaderCallbacks callbacks) {
    OperatorSettings.LeaderElection election = settings.leaderElection();
    LeaderElectionConfigurationBuilder builder =
        LeaderElectionConfigurationBuilder.aLeaderElectionConfiguration(election.leaseName())
            .withLeaseNamespace(election.leaseNamespace().orElse(settings.namespace()))
            .withLeaseDuration(election.leaseDuration())
            .withRenewDeadline(election.renewDeadline())
            .withRetryPeriod(election.retryPeriod())
            .withLeaderCallbacks(callbacks);
    if (identity != null) {
      builder.withIdentity(identity);
    }
    return builder.build();
  }

  private static boolean electionActive(OperatorSettings settings) {
    if (!settings.leaderElection().enabled()) {
      return false;
    }
    List<String> profiles =
        ConfigProvider.getConfig()
            .getOptionalValues(
                "quarkus.operator-sdk.activate-leader-election-for-profiles", String.class)
            .orElse(List.of("prod"));
    return ConfigUtils.getProfiles().stream().anyMatch(profiles::contains);
  }
}
