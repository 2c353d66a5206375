package dev.flotilla.operator.md;

import static dev.flotilla.api.crd.ConditionTypes.FALSE;
import static dev.flotilla.api.crd.ConditionTypes.PLACED;
import static dev.flotilla.api.crd.ConditionTypes.READY;
import static dev.flotilla.api.crd.ConditionTypes.SCALED_TO_ZERO;
import static dev.flotilla.api.crd.ConditionTypes.TRUE;
import static dev.flotilla.api.crd.ConditionTypes.UNKNOWN;

import dev.flotilla.api.crd.AutoscalerState;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.api.crd.ModelDeploymentStatus;
import dev.flotilla.operator.FlotillaNames;
import dev.flotilla.operator.autoscaler.KpaAutoscaler;
import dev.flotilla.operator.events.EventReason;
import dev.flotilla.operator.placement.PlacementDecision;
import dev.flotilla.operator.status.Conditions;
import dev.flotilla.operator.status.ReconcileException;
import dev.flotilla.operator.status.StatusDiff;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The one place a ModelDeployment's status is put together: the fixed conditions {@code Ready},
 * {@code Placed} and {@code ScaledToZero}, replica counts, pool, endpoint and the autoscaler's
 * state. It also says which decisions changed, for the Events, and whether the status differs from
 * what is stored (only then is it written).
 */
public final class ModelDeploymentStatusAggregator {
  /**
   * The stored idle clock moves only in steps this large, so steady demand does not rewrite status
   * every tick.
   */
  static final Duration DEMAND_TIME_GRANULARITY = Duration.ofSeconds(5);

  /** An Event to record once the status is written. */
  public record Decision(EventReason reason, String message) {}

  private final ModelDeployment md;
  private final ModelDeploymentStatus current;
  private final ModelDeploymentStatus next = new ModelDeploymentStatus();
  private final Instant now;
  private final Long generation;

  public ModelDeploymentStatusAggregator(ModelDeployment md, Instant now) {
    this.md = md;
    this.current = md.getStatus() == null ? new ModelDeploymentStatus() : md.getStatus();
    this.now = now;
    this.generation = md.getMetadata().getGeneration();
    next.setObservedGeneration(generation);
    next.setSelector(FlotillaNames.selectorString(md.getMetadata().getName()));
    next.setConditions(new ArrayList<>(current.getConditions()));
    next.setAutoscaler(current.getAutoscaler());
  }

  public ModelDeploymentStatus current() {
    return current;
  }

  public void placed(PlacementDecision decision) {
    String pool = decision instanceof PlacementDecision.OnPool onPool ? onPool.pool() : null;
    next.setPool(pool);
    set(PLACED, TRUE, decision.reason(), decision.message());
  }

  /**
   * The workers as they are, after the autoscaler decided {@code desired}. With scale to zero off
   * for the cluster, {@code ScaledToZero} says so rather than {@code Running}, so that a model
   * whose minReplicas is 0 shows why it keeps a worker.
   */
  public void workers(
      int desired,
      Deployment observed,
      KpaAutoscaler.Decision scale,
      String endpoint,
      boolean scaleToZeroEnabled) {
    int replicas =
        observed == null
                || observed.getStatus() == null
                || observed.getStatus().getReplicas() == null
            ? 0
            : observed.getStatus().getReplicas();
    int ready =
        observed == null
                || observed.getStatus() == null
                || observed.getStatus().getReadyReplicas() == null
            ? 0
            : observed.getStatus().getReadyReplicas();
    next.setReplicas(replicas);
    next.setReadyReplicas(ready);
    next.setDesiredReplicas(desired);
    next.setEndpoint(endpoint);
    next.setAutoscaler(autoscalerState(scale));
    if (desired == 0) {
      set(READY, TRUE, "ScaledToZero", "no replicas wanted now; the first request starts one");
    } else if (ready > 0) {
      set(READY, TRUE, "ReplicasReady", ready + " of " + desired + " replicas ready");
    } else {
      set(READY, FALSE, "WaitingForReplicas", "0 of " + desired + " replicas ready");
    }
    if (desired == 0 && replicas == 0) {
      set(SCALED_TO_ZERO, TRUE, "NoReplicas", scale.reason());
    } else if (desired == 0) {
      set(SCALED_TO_ZERO, FALSE, "ScalingToZero", replicas + " replicas still stopping");
    } else if (!scaleToZeroEnabled) {
      set(
          SCALED_TO_ZERO,
          FALSE,
          "ScaleToZeroDisabled",
          "scale to zero is off for the cluster (operator.scaling.scaleToZeroEnabled is false)");
    } else {
      set(SCALED_TO_ZERO, FALSE, "Running", scale.reason());
    }
  }

  /**
   * No replica is ready and a worker exited with {@code failure} (a model it could not fetch or
   * load): Ready says why instead of only waiting.
   */
  public void workerFailure(String failure) {
    int desired = next.getDesiredReplicas() == null ? 0 : next.getDesiredReplicas();
    int ready = next.getReadyReplicas() == null ? 0 : next.getReadyReplicas();
    if (desired > 0 && ready == 0) {
      set(READY, FALSE, WORKERS_FAILING, "0 of " + desired + " replicas ready; " + failure);
    }
  }

  static final String WORKERS_FAILING = "WorkersFailing";

  /**
   * No replica is ready and a worker is fetching its model: Ready says how far it has come ({@code
   * progress}, from the worker's readiness check) instead of only waiting.
   */
  public void loading(String progress) {
    int desired = next.getDesiredReplicas() == null ? 0 : next.getDesiredReplicas();
    int ready = next.getReadyReplicas() == null ? 0 : next.getReadyReplicas();
    if (desired > 0 && ready == 0) {
      set(READY, FALSE, LOADING, "0 of " + desired + " replicas ready; loading: " + progress);
    }
  }

  static final String LOADING = "Loading";

  /** The reconcile stopped at {@code failure}; nothing runs for this deployment. */
  public void failed(ReconcileException failure) {
    next.setPool(null);
    next.setEndpoint(null);
    next.setDesiredReplicas(0);
    next.setReplicas(current.getReplicas() == null ? 0 : current.getReplicas());
    next.setReadyReplicas(current.getReadyReplicas() == null ? 0 : current.getReadyReplicas());
    set(failure.conditionType(), FALSE, failure.reason(), failure.getMessage());
    if (!failure.conditionType().equals(READY)) {
      set(READY, FALSE, failure.reason(), failure.getMessage());
    }
    set(
        SCALED_TO_ZERO,
        UNKNOWN,
        failure.reason(),
        "no workers while " + failure.conditionType() + " is False");
  }

  /** An unexpected error (API server, bug): Ready says so, the rest stays as it was. */
  public void error(Exception e) {
    next.setPool(current.getPool());
    next.setEndpoint(current.getEndpoint());
    next.setDesiredReplicas(current.getDesiredReplicas());
    next.setReplicas(current.getReplicas());
    next.setReadyReplicas(current.getReadyReplicas());
    set(READY, FALSE, "ReconcileError", String.valueOf(e.getMessage()));
  }

  public ModelDeploymentStatus build() {
    return next;
  }

  public boolean changed() {
    return StatusDiff.differs(next, md.getStatus());
  }

  /** The decisions this reconcile made that a person should see as Events. */
  public List<Decision> decisions(ReconcileException failure) {
    List<Decision> out = new ArrayList<>();
    Condition oldPlaced = find(current.getConditions(), PLACED);
    Condition newPlaced = find(next.getConditions(), PLACED);
    if (newPlaced != null
        && TRUE.equals(newPlaced.getStatus())
        && (oldPlaced == null
            || !TRUE.equals(oldPlaced.getStatus())
            || !Objects.equals(current.getPool(), next.getPool()))) {
      out.add(new Decision(EventReason.Placed, newPlaced.getMessage()));
    }
    if (failure != null) {
      Condition old = find(current.getConditions(), failure.conditionType());
      if (old == null
          || !FALSE.equals(old.getStatus())
          || !Objects.equals(old.getReason(), failure.reason())
          || !Objects.equals(old.getMessage(), failure.getMessage())) {
        out.add(new Decision(failure.eventReason(), failure.getMessage()));
      }
    }
    Condition oldReady = find(current.getConditions(), READY);
    Condition newReady = find(next.getConditions(), READY);
    if (newReady != null
        && WORKERS_FAILING.equals(newReady.getReason())
        && (oldReady == null
            || !WORKERS_FAILING.equals(oldReady.getReason())
            || !Objects.equals(oldReady.getMessage(), newReady.getMessage()))) {
      out.add(new Decision(EventReason.WorkerFailed, newReady.getMessage()));
    }
    if (newReady != null
        && LOADING.equals(newReady.getReason())
        && (oldReady == null || !LOADING.equals(oldReady.getReason()))) {
      out.add(new Decision(EventReason.Loading, newReady.getMessage()));
    }
    int before = current.getDesiredReplicas() == null ? 0 : current.getDesiredReplicas();
    int after = next.getDesiredReplicas() == null ? 0 : next.getDesiredReplicas();
    String why =
        next.getAutoscaler() == null || next.getAutoscaler().getReason() == null
            ? ""
            : ": " + next.getAutoscaler().getReason();
    if (after > before) {
      out.add(
          new Decision(
              before == 0 ? EventReason.ScaledFromZero : EventReason.ScaledUp,
              "scaled from " + before + " to " + after + " replicas" + why));
    } else if (after < before) {
      out.add(
          new Decision(
              after == 0 ? EventReason.ScaledToZero : EventReason.ScaledDown,
              "scaled from " + before + " to " + after + " replicas" + why));
    }
    return out;
  }

  private AutoscalerState autoscalerState(KpaAutoscaler.Decision scale) {
    AutoscalerState previous = current.getAutoscaler();
    KpaAutoscaler.Memory memory = scale.memory();
    AutoscalerState state = new AutoscalerState();
    String storedDemand = previous == null ? null : previous.getLastDemandTime();
    Instant demand = memory.lastDemandTime();
    if (demand != null
        && (storedDemand == null
            || !Instant.parse(storedDemand).plus(DEMAND_TIME_GRANULARITY).isAfter(demand))) {
      storedDemand = demand.toString();
    }
    state.setLastDemandTime(storedDemand);
    state.setLastScaleTime(
        memory.lastScaleTime() == null ? null : memory.lastScaleTime().toString());
    state.setPanicSince(memory.panicSince() == null ? null : memory.panicSince().toString());
    state.setReason(scale.reason());
    return state;
  }

  /** What the stored status remembers for the autoscaler (after a restart, all there is). */
  public static KpaAutoscaler.Memory memoryFromStatus(ModelDeploymentStatus status) {
    AutoscalerState state = status == null ? null : status.getAutoscaler();
    if (state == null) {
      return KpaAutoscaler.Memory.EMPTY;
    }
    return new KpaAutoscaler.Memory(
        parse(state.getLastDemandTime()),
        parse(state.getLastScaleTime()),
        parse(state.getPanicSince()),
        null);
  }

  private static Instant parse(String time) {
    try {
      return time == null ? null : Instant.parse(time);
    } catch (RuntimeException e) {
      return null;
    }
  }

  private void set(String type, String status, String reason, String message) {
    next.setConditions(
        Conditions.set(next.getConditions(), type, status, reason, message, generation, now));
  }

  private static Condition find(List<Condition> conditions, String type) {
    return conditions.stream().filter(c -> type.equals(c.getType())).findFirst().orElse(null);
  }
}
