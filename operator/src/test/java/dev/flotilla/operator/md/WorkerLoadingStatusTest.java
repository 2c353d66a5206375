package dev.flotilla.operator.md;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.operator.Fixtures;
import dev.flotilla.operator.autoscaler.KpaAutoscaler;
import dev.flotilla.operator.events.EventReason;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** A worker fetching its model: how far it has come reaches the ModelDeployment's status. */
class WorkerLoadingStatusTest {
  static final String PROGRESS =
      "hf://org/llama@main: 2/5 files, 1.2 GiB of 4.0 GiB, at model-00002-of-00003.safetensors";

  static final KpaAutoscaler.Decision SCALE =
      new KpaAutoscaler.Decision(1, KpaAutoscaler.Memory.EMPTY, "min");

  static Pod pod(String name, String ip, boolean running, boolean ready) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .withUid(name + "-uid")
        .endMetadata()
        .withNewStatus()
        .withPodIP(ip)
        .addNewContainerStatus()
        .withName("worker")
        .withReady(ready)
        .withNewState()
        .withRunning(running ? new io.fabric8.kubernetes.api.model.ContainerStateRunning() : null)
        .withWaiting(
            running
                ? null
                : new io.fabric8.kubernetes.api.model.ContainerStateWaiting(
                    "back-off", "CrashLoopBackOff"))
        .endState()
        .endContainerStatus()
        .endStatus()
        .build();
  }

  static Deployment observed(int replicas, int ready) {
    return new DeploymentBuilder()
        .withNewStatus()
        .withReplicas(replicas)
        .withReadyReplicas(ready)
        .endStatus()
        .build();
  }

  static Condition ready(ModelDeploymentStatusAggregator status) {
    return status.build().getConditions().stream()
        .filter(c -> c.getType().equals("Ready"))
        .findFirst()
        .orElseThrow();
  }

  /** A progress source that records which pods it was asked about. */
  static final class FakeProgress implements WorkerProgress {
    final List<String> asked = new ArrayList<>();
    Optional<String> answer = Optional.of(PROGRESS);

    @Override
    public Optional<String> of(List<Pod> pods) {
      pods.forEach(p -> asked.add(p.getMetadata().getName()));
      return pods.isEmpty() ? Optional.empty() : answer;
    }
  }

  @Test
  void onlyRunningNotReadyPodsWithAnAddressAreAsked() {
    FakeProgress progress = new FakeProgress();
    progress.of(
        WorkerProgress.loading(
            List.of(
                pod("loading", "10.0.0.1", true, false),
                pod("serving", "10.0.0.2", true, true),
                pod("backing-off", "10.0.0.3", false, false),
                pod("no-ip", null, true, false))));
    assertThat(progress.asked).containsExactly("loading");
  }

  @Test
  void readySaysHowFarTheDownloadIsAndAnEventMarksItsStart() {
    ModelDeployment md = Fixtures.model("llama", 1, 2);
    FakeProgress progress = new FakeProgress();
    List<Pod> pods = List.of(pod("llama-1", "10.0.0.1", true, false));

    ModelDeploymentStatusAggregator first = new ModelDeploymentStatusAggregator(md, Instant.EPOCH);
    first.workers(1, observed(1, 0), SCALE, "endpoint", true);
    assertThat(ready(first).getReason()).isEqualTo("WaitingForReplicas");
    progress.of(WorkerProgress.loading(pods)).ifPresent(first::loading);
    assertThat(ready(first).getStatus()).isEqualTo("False");
    assertThat(ready(first).getReason()).isEqualTo("Loading");
    assertThat(ready(first).getMessage()).isEqualTo("0 of 1 replicas ready; loading: " + PROGRESS);
    assertThat(first.decisions(null))
        .filteredOn(d -> d.reason() == EventReason.Loading)
        .singleElement()
        .satisfies(d -> assertThat(d.message()).contains(PROGRESS));

    // More bytes: the message moves, no new Event.
    md.setStatus(first.build());
    progress.answer = Optional.of("hf://org/llama@main: 3/5 files, 2.0 GiB of 4.0 GiB");
    ModelDeploymentStatusAggregator later = new ModelDeploymentStatusAggregator(md, Instant.EPOCH);
    later.workers(1, observed(1, 0), SCALE, "endpoint", true);
    progress.of(WorkerProgress.loading(pods)).ifPresent(later::loading);
    assertThat(ready(later).getMessage())
        .endsWith("loading: hf://org/llama@main: 3/5 files, 2.0 GiB of 4.0 GiB");
    assertThat(later.changed()).isTrue();
    assertThat(later.decisions(null))
        .extracting(ModelDeploymentStatusAggregator.Decision::reason)
        .doesNotContain(EventReason.Loading);

    // Loaded: the replica is ready, the pod no longer asked, Ready says so.
    md.setStatus(later.build());
    ModelDeploymentStatusAggregator loaded = new ModelDeploymentStatusAggregator(md, Instant.EPOCH);
    loaded.workers(1, observed(1, 1), SCALE, "endpoint", true);
    progress
        .of(WorkerProgress.loading(List.of(pod("llama-1", "10.0.0.1", true, true))))
        .ifPresent(loaded::loading);
    assertThat(ready(loaded).getStatus()).isEqualTo("True");
    assertThat(ready(loaded).getReason()).isEqualTo("ReplicasReady");
    assertThat(ready(loaded).getMessage()).doesNotContain("loading");
    assertThat(loaded.decisions(null))
        .extracting(ModelDeploymentStatusAggregator.Decision::reason)
        .doesNotContain(EventReason.Loading);
  }

  @Test
  void aReadyReplicaOutweighsALoadingOne() {
    ModelDeployment md = Fixtures.model("llama", 1, 2);
    ModelDeploymentStatusAggregator serving =
        new ModelDeploymentStatusAggregator(md, Instant.EPOCH);
    serving.workers(2, observed(2, 1), SCALE, "endpoint", true);
    serving.loading(PROGRESS);
    assertThat(ready(serving).getReason()).isEqualTo("ReplicasReady");
  }
}
