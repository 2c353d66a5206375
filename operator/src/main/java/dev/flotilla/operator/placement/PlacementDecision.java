package dev.flotilla.operator.placement;

/** Where a ModelDeployment's replicas go, or why they go nowhere. */
public sealed interface PlacementDecision {
  /** Short machine-readable reason for the {@code Placed} condition. */
  String reason();

  /** What a person reads in the condition and the Event. */
  String message();

  /** GPUs reserved on a pool for this deployment (maxReplicas × gpus); 0 when none. */
  default int reservedGpus() {
    return 0;
  }

  /** Placed on {@code pool}, holding {@code reservedGpus} of its GPUs. */
  record OnPool(String pool, int reservedGpus, String message) implements PlacementDecision {
    @Override
    public String reason() {
      return "Placed";
    }
  }

  /** Workers need no GPU and run wherever the scheduler puts them. */
  record CpuOnly() implements PlacementDecision {
    @Override
    public String reason() {
      return "CpuOnly";
    }

    @Override
    public String message() {
      return "resources.gpus is 0: workers run on CPU, no GpuNodePool needed";
    }
  }

  /** Nothing fits; {@code reason} is one of the constants below. */
  record Unplaced(String reason, String message) implements PlacementDecision {}

  String POOL_NOT_FOUND = "PoolNotFound";
  String NO_MATCHING_PRODUCT = "NoMatchingGpuProduct";
  String INSUFFICIENT_MEMORY = "InsufficientGpuMemory";
  String TOO_MANY_GPUS = "TooManyGpusPerReplica";
  String INSUFFICIENT_CAPACITY = "InsufficientCapacity";
  String ZERO_GPUS = "ZeroGpusOnGpuPool";
  String WEIGHTS_UNKNOWN = "WeightsSizeUnknown";
  String INVALID_SPEC = "InvalidSpec";
}
