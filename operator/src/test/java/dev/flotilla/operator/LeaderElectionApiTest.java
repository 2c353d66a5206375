package dev.flotilla.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.flotilla.api.control.v1.DemandReport;
import dev.flotilla.api.control.v1.ModelDemand;
import dev.flotilla.api.control.v1.ScaleDecision;
import dev.flotilla.api.crd.GpuNodePool;
import dev.flotilla.operator.config.OperatorSettings;
import dev.flotilla.operator.config.SettingsBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectRulesReviewBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * Two operator instances share one Lease: one reconciles; when it goes, the other takes over within
 * the lease time.
 */
@EnableKubernetesMockClient(crud = true)
class LeaderElectionApiTest {
  static final Duration LEASE = Duration.ofSeconds(2);

  KubernetesClient client;
  KubernetesMockServer server;

  LeaderElectionConfiguration election(OperatorSettings settings, String identity) {
    OperatorSettings.LeaderElection e = settings.leaderElection();
    return new LeaderElectionConfiguration(
        e.leaseName(),
        e.leaseNamespace().orElse(settings.namespace()),
        e.leaseDuration(),
        e.renewDeadline(),
        e.retryPeriod(),
        identity,
        null,
        false);
  }

  String holder(OperatorSettings settings) {
    Lease lease =
        client
            .leases()
            .inNamespace(settings.namespace())
            .withName(settings.leaderElection().leaseName())
            .get();
    return lease == null ? null : lease.getSpec().getHolderIdentity();
  }

  @Test
  void standbyTakesOverWhenTheLeaderStops() {
    OperatorHarness.installCrds(client);
    // The operator checks it may use Leases before electing; the in-memory server has no RBAC to
    // ask.
    server
        .expect()
        .post()
        .withPath("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews")
        .andReturn(
            201,
            new SelfSubjectRulesReviewBuilder()
                .withNewStatus()
                .addNewResourceRule()
                .withApiGroups("coordination.k8s.io")
                .withResources("leases")
                .withVerbs("*")
                .endResourceRule()
                .withIncomplete(false)
                .endStatus()
                .build())
        .always();
    OperatorSettings settings =
        SettingsBuilder.defaults()
            .namespace("flotilla-system")
            .leaseName("flotilla-test")
            .leaseDuration(LEASE)
            .renewDeadline(Duration.ofMillis(1500))
            .retryPeriod(Duration.ofMillis(200))
            .build();
    client
        .namespaces()
        .resource(
            new NamespaceBuilder()
                .withNewMetadata()
                .withName("flotilla-system")
                .endMetadata()
                .build())
        .create();
    OperatorHarness a =
        new OperatorHarness(client, settings, Clock.systemUTC(), election(settings, "operator-a"))
            .start();
    await().atMost(Duration.ofSeconds(10)).until(() -> "operator-a".equals(holder(settings)));
    OperatorHarness b =
        new OperatorHarness(client, settings, Clock.systemUTC(), election(settings, "operator-b"))
            .start();
    try {
      client.resource(Fixtures.pool("first", "NVIDIA-L4", "24Gi", 1, 2, 0.7)).create();
      await().atMost(Duration.ofSeconds(10)).until(() -> capacity("first") != null);
      assertThat(holder(settings)).isEqualTo("operator-a");
      await().atMost(Duration.ofSeconds(10)).until(() -> b.leadership().leader().isPresent());
      assertThat(a.leadership().leading()).isTrue();
      assertThat(b.leadership().leading()).isFalse();
      assertThat(reportDemand(a).error).as("the leader takes demand").isNull();
      Status refused = Status.fromThrowable(reportDemand(b).error);
      assertThat(refused.getCode())
          .as("a standby refuses demand it would never act on")
          .isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(refused.getDescription()).contains("not the leader", "operator-a");

      a.close();
      client.resource(Fixtures.pool("second", "NVIDIA-L4", "24Gi", 1, 3, 0.7)).create();
      await()
          .atMost(LEASE.multipliedBy(5))
          .untilAsserted(
              () -> {
                assertThat(holder(settings)).isEqualTo("operator-b");
                assertThat(capacity("second")).isEqualTo(3);
              });
      RecordedStream afterTakeover = reportDemand(b);
      assertThat(afterTakeover.error).as("the new leader takes demand").isNull();
      assertThat(afterTakeover.decisions).hasSize(1);
    } finally {
      b.close();
    }
  }

  /** One demand report sent straight to an instance's autoscaler service. */
  static RecordedStream reportDemand(OperatorHarness operator) {
    RecordedStream recorded = new RecordedStream();
    StreamObserver<DemandReport> requests = operator.autoscaler().reportDemand(recorded);
    requests.onNext(
        DemandReport.newBuilder()
            .setGatewayId("gw-1")
            .addModels(
                ModelDemand.newBuilder().setNamespace("default").setModel("m").setInFlight(1))
            .build());
    return recorded;
  }

  static final class RecordedStream implements StreamObserver<ScaleDecision> {
    final List<ScaleDecision> decisions = new CopyOnWriteArrayList<>();
    volatile Throwable error;

    @Override
    public void onNext(ScaleDecision value) {
      decisions.add(value);
    }

    @Override
    public void onError(Throwable t) {
      error = t;
    }

    @Override
    public void onCompleted() {}
  }

  Integer capacity(String pool) {
    GpuNodePool p = client.resources(GpuNodePool.class).withName(pool).get();
    return p.getStatus() == null ? null : p.getStatus().getCapacityGpus();
  }
}
