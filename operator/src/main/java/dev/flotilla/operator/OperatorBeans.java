package dev.flotilla.operator;

import dev.flotilla.operator.autoscaler.DemandStore;
import dev.flotilla.operator.config.OperatorSettings;
import dev.flotilla.operator.placement.PlacementBook;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfigurationBuilder;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.time.Clock;

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

  /**
   * One leader among the operator's replicas, through a Lease. Quarkus' operator extension picks
   * this up in the profiles listed by {@code quarkus.operator-sdk.activate-leader-election-for-profiles}
   * (prod by default); standbys keep their informers warm and take over when the lease lapses.
   */
  @Produces
  @Singleton
  LeaderElectionConfiguration leaderElection(OperatorSettings settings) {
    return leaderElection(settings, null);
  }

  /** The Lease settings; {@code identity} null means the pod's hostname. */
  public static LeaderElectionConfiguration leaderElection(OperatorSettings settings, String identity) {
    OperatorSettings.LeaderElection election = settings.leaderElection();
    LeaderElectionConfigurationBuilder builder = LeaderElectionConfigurationBuilder
        .aLeaderElectionConfiguration(election.leaseName())
        .withLeaseNamespace(election.leaseNamespace().orElse(settings.namespace()))
        .withLeaseDuration(election.leaseDuration())
        .withRenewDeadline(election.renewDeadline())
        .withRetryPeriod(election.retryPeriod());
    if (identity != null) {
      builder.withIdentity(identity);
    }
    return builder.build();
  }
}
