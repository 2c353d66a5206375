package dev.flotilla.gateway.limit;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import org.junit.jupiter.api.Test;

class GatewayReplicasTest {
  private final GatewayReplicas replicas = new GatewayReplicas("gw-b");

  private static Pod pod(String name, boolean ready) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .withNamespace("flotilla-system")
        .endMetadata()
        .withNewStatus()
        .addNewCondition()
        .withType("Ready")
        .withStatus(ready ? "True" : "False")
        .endCondition()
        .endStatus()
        .build();
  }

  private static Pod terminating(String name) {
    return new PodBuilder(pod(name, true))
        .editMetadata()
        .withDeletionTimestamp("2026-01-01T00:00:00Z")
        .endMetadata()
        .build();
  }

  @Test
  void untilThePodsAreListedTheCountIsUnknownAndTheLimitsAreWhole() {
    replicas.onPod(pod("gw-a", true));
    replicas.onPod(pod("gw-b", true));
    replicas.onPod(pod("gw-c", true));
    assertThat(replicas.get()).isEqualTo(ReplicaShare.WHOLE);
  }

  @Test
  void threeReadyPodsGiveEachAThirdAndThisOneItsRankByName() {
    replicas.onPod(pod("gw-c", true));
    replicas.onPod(pod("gw-a", true));
    replicas.onPod(pod("gw-b", true));
    replicas.listed();
    assertThat(replicas.get()).isEqualTo(new ReplicaShare(3, 1));
  }

  @Test
  void theCountFollowsPodsBecomingReadyStoppingAndGoingAway() {
    replicas.onPod(pod("gw-b", true));
    replicas.listed();
    assertThat(replicas.get()).isEqualTo(new ReplicaShare(1, 0));

    replicas.onPod(pod("gw-a", false));
    assertThat(replicas.get())
        .as("a pod not ready yet gets no traffic")
        .isEqualTo(ReplicaShare.WHOLE);
    replicas.onPod(pod("gw-a", true));
    assertThat(replicas.get()).isEqualTo(new ReplicaShare(2, 1));
    replicas.onPod(pod("gw-c", true));
    assertThat(replicas.get()).isEqualTo(new ReplicaShare(3, 1));

    replicas.onPod(terminating("gw-c"));
    assertThat(replicas.get())
        .as("a terminating pod leaves the endpoints")
        .isEqualTo(new ReplicaShare(2, 1));
    replicas.onPodDeleted(pod("gw-a", true));
    assertThat(replicas.get()).isEqualTo(new ReplicaShare(1, 0));
  }

  @Test
  void thisReplicaCountsItselfBeforeItsOwnPodIsReady() {
    replicas.onPod(pod("gw-a", true));
    replicas.onPod(pod("gw-b", false));
    replicas.listed();
    assertThat(replicas.get()).isEqualTo(new ReplicaShare(2, 1));
  }

  @Test
  void aReplicaWhosePodIsMissingStillCountsItselfOnce() {
    GatewayReplicas unnamed = new GatewayReplicas("local");
    unnamed.onPod(pod("gw-a", true));
    unnamed.onPod(pod("gw-b", true));
    unnamed.listed();
    assertThat(unnamed.get()).isEqualTo(new ReplicaShare(3, 2));
  }
}
