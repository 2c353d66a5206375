package dev.flotilla.operator.autoscaler;

import java.time.Duration;
import java.time.Instant;

/**
 * Desired replicas the Knative KPA way, as plain arithmetic over a demand snapshot, the current
 * replicas and what the autoscaler remembered (kept in the ModelDeployment's status, so an operator
 * restart changes nothing).
 *
 * <ul>
 *   <li>Stable mode: {@code ceil(stable-window concurrency / targetConcurrency)}.
 *   <li>Panic mode: entered when the panic-window demand reaches {@code panicThreshold} × the ready
 *       replicas' capacity; desired follows the panic window and never goes down; left once a whole
 *       stable window passed without crossing the threshold.
 *   <li>To zero: only when {@code minReplicas} is 0, the cluster allows scale to zero, and nothing
 *       was asked for during {@code scaleToZeroAfter}, measured from the remembered last demand (a
 *       restart does not reset the clock); until then one replica stays. With scale to zero off for
 *       the cluster one replica always stays, whatever {@code minReplicas} says.
 *   <li>From zero: a held request (a gateway waits for a worker) asks for a replica at once.
 *   <li>Starting replicas: while some replicas are not ready, desired does not go below the current
 *       count (ReplicaSets delete not-ready pods first, so any scale-down would kill a loading
 *       worker), for at most {@code coldStartTimeout} after the last scale-up so that a worker that
 *       never becomes ready cannot hold the model up forever.
 *   <li>No reports (restart, gateways gone): the previous desired count is kept until the idle
 *       clock runs out, rather than reading silence as zero demand.
 *   <li>{@code spec.replicas} (kubectl scale, HPA) pins the count within [0, maxReplicas]: the user
 *       asked for it explicitly, so it wins and the autoscaler stands aside.
 * </ul>
 */
public final class KpaAutoscaler {
  /** Scaling bounds and timing of one model. */
  public record Policy(
      int minReplicas,
      int maxReplicas,
      int targetConcurrency,
      Duration stableWindow,
      double panicThreshold,
      Duration scaleToZeroAfter,
      Duration coldStartTimeout,
      Integer pinnedReplicas,
      boolean scaleToZeroEnabled) {}

  /**
   * What the autoscaler remembers between decisions.
   *
   * @param lastDemandTime start of the idle clock
   * @param lastScaleTime last change of desired replicas
   * @param panicSince when panic mode began; {@code null} when calm
   * @param lastPanicTrigger last time the panic threshold was crossed (not persisted: after a
   *     restart {@code panicSince} stands in for it)
   */
  public record Memory(
      Instant lastDemandTime, Instant lastScaleTime, Instant panicSince, Instant lastPanicTrigger) {
    public static final Memory EMPTY = new Memory(null, null, null, null);
  }

  /**
   * The observed state of the workers. {@code previousDesired} is null before the first decision.
   */
  public record Observed(int currentReplicas, int readyReplicas, Integer previousDesired) {}

  public record Decision(int desired, Memory memory, String reason) {
    public boolean panicking() {
      return memory.panicSince() != null;
    }
  }

  private KpaAutoscaler() {}

  public static Decision decide(
      Policy policy, DemandSnapshot demand, Observed observed, Memory memory, Instant now) {
    Instant lastDemand =
        demand.active() || memory.lastDemandTime() == null ? now : memory.lastDemandTime();
    // Unknown before the first decision, or when the status that carries it is not readable (a
    // restarted operator): then what the workers run now, so a restart never looks like a scale
    // change that would restart the cold-start clock of replicas still starting.
    int previous =
        observed.previousDesired() != null
            ? observed.previousDesired()
            : observed.currentReplicas() > 0 ? observed.currentReplicas() : policy.minReplicas();

    if (policy.pinnedReplicas() != null) {
      int pinned = clamp(policy.pinnedReplicas(), 0, policy.maxReplicas());
      return new Decision(
          pinned,
          new Memory(lastDemand, pinned != previous ? now : memory.lastScaleTime(), null, null),
          "spec.replicas pins " + pinned + " replicas; the autoscaler stands aside");
    }

    int target = Math.max(1, policy.targetConcurrency());
    int ready = Math.max(1, observed.readyReplicas());
    boolean overThreshold =
        demand.panicConcurrency() > 0
            && demand.panicConcurrency() / target >= policy.panicThreshold() * ready;
    Instant panicSince = memory.panicSince();
    Instant lastTrigger =
        memory.lastPanicTrigger() != null ? memory.lastPanicTrigger() : panicSince;
    if (overThreshold) {
      panicSince = panicSince == null ? now : panicSince;
      lastTrigger = now;
    } else if (panicSince != null && !now.isBefore(lastTrigger.plus(policy.stableWindow()))) {
      panicSince = null;
      lastTrigger = null;
    }

    int stableDesired = (int) Math.ceil(demand.stableConcurrency() / target);
    int panicDesired = (int) Math.ceil(demand.panicConcurrency() / target);
    int desired;
    String reason;
    if (!demand.reporting()) {
      desired = previous;
      reason = "no demand reports; keeping " + previous;
    } else if (panicSince != null) {
      desired = Math.max(Math.max(panicDesired, stableDesired), previous);
      reason = "panic: the panic window asks for " + panicDesired + " replicas; not scaling down";
    } else {
      desired = stableDesired;
      reason =
          "the stable window asks for "
              + stableDesired
              + " replicas at "
              + target
              + " concurrent each";
    }
    if (demand.held() > 0 && desired == 0) {
      desired = 1;
      reason = "requests held while cold: scaling from zero";
    }

    Duration idle = Duration.between(lastDemand, now);
    if (!policy.scaleToZeroEnabled()) {
      if (desired == 0) {
        desired = 1;
        reason = reason + "; scale to zero is off for the cluster: keeping 1";
      }
    } else if (desired == 0 || !demand.reporting()) {
      if (idle.compareTo(policy.scaleToZeroAfter()) >= 0) {
        desired = 0;
        reason = "no demand for scaleToZeroAfter (" + policy.scaleToZeroAfter().toSeconds() + "s)";
      } else if (desired == 0 && (previous > 0 || observed.currentReplicas() > 0)) {
        desired = 1;
        reason =
            "idle; scaling to zero "
                + policy.scaleToZeroAfter().toSeconds()
                + "s after the last demand";
      }
    }

    if (desired < policy.minReplicas()) {
      desired = policy.minReplicas();
      reason = reason + "; minReplicas " + policy.minReplicas();
    }
    int starting = observed.currentReplicas() - observed.readyReplicas();
    boolean withinColdStart =
        memory.lastScaleTime() == null
            || now.isBefore(memory.lastScaleTime().plus(policy.coldStartTimeout()));
    if (starting > 0 && desired < observed.currentReplicas() && withinColdStart) {
      desired = observed.currentReplicas();
      reason = reason + "; holding " + desired + " while " + starting + " still starting";
    }
    if (desired > policy.maxReplicas()) {
      desired = policy.maxReplicas();
      reason = reason + "; maxReplicas " + policy.maxReplicas();
    }
    Instant lastScale = desired != previous ? now : memory.lastScaleTime();
    return new Decision(
        desired, new Memory(lastDemand, lastScale, panicSince, lastTrigger), reason);
  }

  private static int clamp(int value, int min, int max) {
    return Math.max(min, Math.min(max, value));
  }
}
