package dev.flotilla.worker.runtime;

import java.util.Optional;

/**
 * Where the worker is in its life: LOADING the model, SERVING, DRAINING on shutdown, or FAILED to
 * load. The gRPC service and the health checks read it; the lifecycle writes it.
 */
public final class WorkerHolder {
  public enum State {
    LOADING,
    SERVING,
    DRAINING,
    FAILED
  }

  private final String workerId;
  private final String modelName;
  private volatile State state = State.LOADING;
  private volatile WorkerRuntime runtime;
  private volatile String failure;
  private volatile String progress = "";

  public WorkerHolder(String workerId, String modelName) {
    this.workerId = workerId;
    this.modelName = modelName;
  }

  /** A holder already serving {@code runtime} (tests, tools). */
  public static WorkerHolder serving(WorkerRuntime runtime) {
    WorkerHolder holder =
        new WorkerHolder(runtime.settings().workerId(), runtime.settings().modelName());
    holder.loaded(runtime);
    return holder;
  }

  public String workerId() {
    return workerId;
  }

  public String modelName() {
    return modelName;
  }

  public State state() {
    return state;
  }

  public boolean serving() {
    return state == State.SERVING;
  }

  /** The runtime once the model is loaded (also while draining). */
  public Optional<WorkerRuntime> runtime() {
    return Optional.ofNullable(runtime);
  }

  /** Why loading failed, while FAILED. */
  public Optional<String> failure() {
    return Optional.ofNullable(failure);
  }

  /** How far the model's download has come, while LOADING; empty when nothing is downloaded. */
  public String progress() {
    return progress;
  }

  public void progress(String line) {
    progress = line;
  }

  public void loaded(WorkerRuntime value) {
    runtime = value;
    state = State.SERVING;
  }

  public void failed(String reason) {
    failure = reason;
    state = State.FAILED;
  }

  public void draining() {
    state = State.DRAINING;
  }
}
