package dev.flotilla.operator.events;

/** Why the operator recorded a Kubernetes Event: every decision a person would want to see. */
public enum EventReason {
  Placed(false),
  PlacementFailed(true),
  InvalidSpec(true),
  ScaledUp(false),
  ScaledDown(false),
  ScaledToZero(false),
  ScaledFromZero(false),
  WorkersRolled(false),
  WorkerFailed(true),
  Loading(false),
  WorkerCertificateIssued(false),
  Validated(false),
  ValidationFailed(true),
  TenantReady(false),
  TenantNotReady(true),
  ReconcileFailed(true);

  private final boolean warning;

  EventReason(boolean warning) {
    this.warning = warning;
  }

  /** Kubernetes Event type: {@code Warning} for failures, {@code Normal} for the rest. */
  public String type() {
    return warning ? "Warning" : "Normal";
  }
}
