package dev.flotilla.operator.md;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.operator.Fixtures;
import dev.flotilla.operator.autoscaler.KpaAutoscaler;
import dev.flotilla.operator.events.EventReason;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A worker that cannot fetch its model: its reason reaches the ModelDeployment's status. */
class WorkerFailuresTest {
  static final String LOG_TAIL =
      """
      2026-12-07 17:20:01,000 INFO  [dev.flotilla.worker.app.WorkerLifecycle] downloading hf://org/llama@main: 1/5 files, 10.0 MiB of 4.0 GiB
      2026-12-07 17:20:02,000 ERROR [dev.flotilla.worker.app.WorkerLifecycle] cannot load the model from hf://org/llama@main (FLOTILLA_MODEL_SOURCE (flotilla.worker.model-source)): FetchException: hf://org/llama@main: the revision lookup failed: 401 Unauthorized: no HF_TOKEN is set, and a private or gated repository needs one
      2026-12-07 17:20:02,100 INFO  [io.quarkus] flotilla-worker stopped in 0.052s
      """;

  static Pod pod(String name, Integer lastExit, String message) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .endMetadata()
        .withNewStatus()
        .addNewContainerStatus()
        .withName("worker")
        .withRestartCount(lastExit == null ? 0 : 3)
        .withNewState()
        .withNewRunning()
        .endRunning()
        .endState()
        .withNewLastState()
        .withTerminated(
            lastExit == null
                ? null
                : new io.fabric8.kubernetes.api.model.ContainerStateTerminatedBuilder()
                    .withExitCode(lastExit)
                    .withReason("Error")
                    .withMessage(message)
                    .build())
        .endLastState()
        .endContainerStatus()
        .endStatus()
        .build();
  }

  @Test
  void theWorkersReasonLineIsTakenFromItsLogTail() {
    assertThat(WorkerFailures.of(List.of(pod("llama-1", null, null)))).isEmpty();
    assertThat(WorkerFailures.of(List.of(pod("llama-1", 0, "done")))).isEmpty();
    assertThat(WorkerFailures.of(List.of(pod("llama-1", null, null), pod("llama-2", 1, LOG_TAIL))))
        .hasValue(
            "worker llama-2 exited with 1 (3 restarts): cannot load the model from"
                + " hf://org/llama@main (FLOTILLA_MODEL_SOURCE (flotilla.worker.model-source)):"
                + " FetchException: hf://org/llama@main: the revision lookup failed: 401"
                + " Unauthorized: no HF_TOKEN is set, and a private or gated repository needs one");
    // Without the worker's line (killed for memory, say): the last line, or the reason.
    assertThat(WorkerFailures.of(List.of(pod("llama-3", 137, ""))))
        .hasValue("worker llama-3 exited with 137 (3 restarts): Error");
  }

  @Test
  void readySaysWhyAndAnEventIsRecordedOncePerReason() {
    ModelDeployment md = Fixtures.model("llama", 1, 2);
    Deployment observed =
        new DeploymentBuilder()
            .withNewStatus()
            .withReplicas(1)
            .withReadyReplicas(0)
            .endStatus()
            .build();
    KpaAutoscaler.Decision scale = new KpaAutoscaler.Decision(1, KpaAutoscaler.Memory.EMPTY, "min");

    ModelDeploymentStatusAggregator first = new ModelDeploymentStatusAggregator(md, Instant.EPOCH);
    first.workers(1, observed, scale, "endpoint", true);
    first.workerFailure("worker llama-2 exited with 1: cannot load the model from hf://x: 401");
    assertThat(first.build().getConditions())
        .filteredOn(c -> c.getType().equals("Ready"))
        .singleElement()
        .satisfies(
            c -> {
              assertThat(c.getStatus()).isEqualTo("False");
              assertThat(c.getReason()).isEqualTo("WorkersFailing");
              assertThat(c.getMessage())
                  .isEqualTo(
                      "0 of 1 replicas ready; worker llama-2 exited with 1: cannot load the"
                          + " model from hf://x: 401");
            });
    assertThat(first.decisions(null))
        .extracting(ModelDeploymentStatusAggregator.Decision::reason)
        .contains(EventReason.WorkerFailed);

    md.setStatus(first.build());
    ModelDeploymentStatusAggregator again = new ModelDeploymentStatusAggregator(md, Instant.EPOCH);
    again.workers(1, observed, scale, "endpoint", true);
    again.workerFailure("worker llama-2 exited with 1: cannot load the model from hf://x: 401");
    assertThat(again.decisions(null))
        .extracting(ModelDeploymentStatusAggregator.Decision::reason)
        .doesNotContain(EventReason.WorkerFailed);

    // A ready replica outweighs a failing one.
    ModelDeploymentStatusAggregator serving =
        new ModelDeploymentStatusAggregator(md, Instant.EPOCH);
    serving.workers(
        2,
        new DeploymentBuilder()
            .withNewStatus()
            .withReplicas(2)
            .withReadyReplicas(1)
            .endStatus()
            .build(),
        scale,
        "endpoint",
        true);
    serving.workerFailure("worker llama-3 exited with 1: …");
    assertThat(serving.build().getConditions())
        .filteredOn(c -> c.getType().equals("Ready"))
        .singleElement()
        .satisfies(c -> assertThat(c.getReason()).isEqualTo("ReplicasReady"));
  }
}
