package dev.flotilla.worker.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.worker.runtime.WorkerHolder;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.junit.jupiter.api.Test;

/** What /q/health/ready says while loading and after a failed load. */
class ModelReadinessCheckTest {
  private static HealthCheckResponse readiness(WorkerHolder holder) {
    ModelReadinessCheck check = new ModelReadinessCheck();
    check.holder = holder;
    return check.call();
  }

  @Test
  void notReadyWhileLoading() {
    HealthCheckResponse r = readiness(new WorkerHolder("w", "m"));
    assertThat(r.getStatus()).isEqualTo(HealthCheckResponse.Status.DOWN);
    assertThat(r.getData().orElseThrow()).containsEntry("state", "LOADING");
  }

  @Test
  void aMissingGpuFailsReadinessWithTheReason() {
    WorkerHolder holder = new WorkerHolder("w", "m");
    String reason =
        "DeviceUnavailableException: FLOTILLA_DEVICE (flotilla.worker.device) is cuda:0 but the"
            + " engine sees no GPU: no usable NVIDIA driver. The worker does not fall back to the"
            + " CPU.";
    holder.failed(reason);
    HealthCheckResponse r = readiness(holder);
    assertThat(r.getStatus()).isEqualTo(HealthCheckResponse.Status.DOWN);
    assertThat(r.getData().orElseThrow())
        .containsEntry("state", "FAILED")
        .containsEntry("failure", reason)
        .containsEntry("device", "");
  }
}
