package dev.flotilla.operator.status;

import dev.flotilla.operator.events.EventReason;

/**
 * A reconcile that cannot go on because of the resource's input (not the API server): it carries
 * the condition to write and the Event to record, so the status aggregator says why and the
 * reconcile ends without a retry storm. Fixing the input (or a watched input changing) triggers the
 * next reconcile.
 */
public class ReconcileException extends Exception {
  private final String conditionType;
  private final String reason;
  private final EventReason eventReason;

  public ReconcileException(
      String conditionType, String reason, String message, EventReason eventReason) {
    super(message, null, false, false);
    this.conditionType = conditionType;
    this.reason = reason;
    this.eventReason = eventReason;
  }

  /** Condition type that goes False: {@code Placed}, {@code Validated}, {@code Ready}. */
  public String conditionType() {
    return conditionType;
  }

  /** Machine-readable reason on that condition. */
  public String reason() {
    return reason;
  }

  public EventReason eventReason() {
    return eventReason;
  }
}
