package dev.flotilla.operator.md;

import dev.flotilla.operator.FlotillaNames;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.List;
import java.util.Optional;

/**
 * How far a model's workers have come loading it, as their readiness checks say while they fetch an
 * {@code hf://} or {@code s3://} source ({@code hf://org/repo@main: 2/5 files, 1.2 GiB of 4.0 GiB,
 * at …}). The reconciler asks only while no replica is ready; an implementation answers within a
 * bounded time, so a slow worker never stalls a reconcile.
 */
public interface WorkerProgress {
  /** The first progress line among {@code pods}, empty when none reports one. */
  Optional<String> of(List<Pod> pods);

  /** The pods worth asking: the worker container runs but is not ready, and the pod has an IP. */
  static List<Pod> loading(List<Pod> pods) {
    return pods.stream()
        .filter(p -> p.getStatus() != null && p.getStatus().getPodIP() != null)
        .filter(p -> p.getMetadata() != null && p.getMetadata().getDeletionTimestamp() == null)
        .filter(
            p ->
                p.getStatus().getContainerStatuses() != null
                    && p.getStatus().getContainerStatuses().stream()
                        .anyMatch(WorkerProgress::runningNotReady))
        .toList();
  }

  private static boolean runningNotReady(ContainerStatus c) {
    return FlotillaNames.WORKER_CONTAINER.equals(c.getName())
        && c.getState() != null
        && c.getState().getRunning() != null
        && !Boolean.TRUE.equals(c.getReady());
  }
}
