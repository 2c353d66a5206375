package dev.flotilla.operator.md;

import dev.flotilla.operator.FlotillaNames;
import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.List;
import java.util.Optional;

/**
 * Why workers exit, read off their pods: a worker that cannot fetch or load its model ends with the
 * reason (the file and the cause) in its log, and its pod's termination message carries the log's
 * tail ({@code FallbackToLogsOnError}). The line that says why is the one the worker starts with
 * {@link #REASON_MARK}; without it, the message's last line.
 */
final class WorkerFailures {
  /** How the worker's failure line starts ({@code WorkerLifecycle}). */
  static final String REASON_MARK = "cannot load the model from ";

  static final int MAX_MESSAGE = 512;

  private WorkerFailures() {}

  /** The first worker pod's last failed exit, e.g. {@code worker llama-7f9-x exited with 1: …}. */
  static Optional<String> of(List<Pod> pods) {
    for (Pod pod : pods) {
      if (pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null) {
        continue;
      }
      for (ContainerStatus c : pod.getStatus().getContainerStatuses()) {
        if (!FlotillaNames.WORKER_CONTAINER.equals(c.getName())) {
          continue;
        }
        ContainerStateTerminated exit =
            c.getState() != null && c.getState().getTerminated() != null
                ? c.getState().getTerminated()
                : c.getLastState() == null ? null : c.getLastState().getTerminated();
        if (exit != null && exit.getExitCode() != null && exit.getExitCode() != 0) {
          return Optional.of(
              "worker "
                  + pod.getMetadata().getName()
                  + " exited with "
                  + exit.getExitCode()
                  + (c.getRestartCount() == null || c.getRestartCount() == 0
                      ? ""
                      : " (" + c.getRestartCount() + " restarts)")
                  + ": "
                  + reason(exit));
        }
      }
    }
    return Optional.empty();
  }

  private static String reason(ContainerStateTerminated exit) {
    String message = exit.getMessage() == null ? "" : exit.getMessage();
    String marked = null;
    String last = null;
    for (String l : message.split("\n")) {
      if (l.contains(REASON_MARK)) {
        marked = l.substring(l.indexOf(REASON_MARK)).strip();
      }
      if (!l.isBlank()) {
        last = l.strip();
      }
    }
    String line = marked != null ? marked : last != null ? last : String.valueOf(exit.getReason());
    return line.length() <= MAX_MESSAGE ? line : line.substring(0, MAX_MESSAGE) + "…";
  }
}
