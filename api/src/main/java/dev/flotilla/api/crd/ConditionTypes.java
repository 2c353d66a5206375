package dev.flotilla.api.crd;

/** The fixed set of condition types written to the status of Flotilla's custom resources. */
public final class ConditionTypes {
  /** Every kind: the resource is doing what its spec asks. */
  public static final String READY = "Ready";

  /** ModelDeployment: a GpuNodePool with room for its replicas was chosen. */
  public static final String PLACED = "Placed";

  /** ModelDeployment: the autoscaler removed every replica for lack of demand. */
  public static final String SCALED_TO_ZERO = "ScaledToZero";

  /** LoraAdapter: rank, target modules and shapes match the base model. */
  public static final String VALIDATED = "Validated";

  public static final String TRUE = "True";
  public static final String FALSE = "False";
  public static final String UNKNOWN = "Unknown";

  private ConditionTypes() {}
}
