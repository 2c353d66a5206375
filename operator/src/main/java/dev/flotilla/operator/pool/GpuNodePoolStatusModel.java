package dev.flotilla.operator.pool;

import dev.flotilla.api.crd.ConditionTypes;
import dev.flotilla.api.crd.GpuNodePool;
import dev.flotilla.api.crd.GpuNodePoolStatus;
import dev.flotilla.operator.status.Conditions;
import java.time.Instant;

/**
 * The status a GpuNodePool should have, computed without touching the API: its capacity from the
 * spec, and the placements the model reconcilers recorded (kept as they are).
 */
public final class GpuNodePoolStatusModel {
  private GpuNodePoolStatusModel() {}

  public static int capacityGpus(GpuNodePool pool) {
    Integer perNode = pool.getSpec().getGpu().getPerNode();
    return pool.getSpec().getMaxNodes() * (perNode == null ? 1 : perNode);
  }

  public static GpuNodePoolStatus desired(GpuNodePool pool, Instant now) {
    GpuNodePoolStatus current = pool.getStatus() == null ? new GpuNodePoolStatus() : pool.getStatus();
    GpuNodePoolStatus status = new GpuNodePoolStatus();
    int capacity = capacityGpus(pool);
    int allocated = current.getPlacements().stream().mapToInt(p -> p.getGpus() == null ? 0 : p.getGpus()).sum();
    status.setObservedGeneration(pool.getMetadata().getGeneration());
    status.setCapacityGpus(capacity);
    status.setAllocatedGpus(allocated);
    status.setPlacements(current.getPlacements());
    boolean empty = capacity == 0;
    status.setConditions(Conditions.set(current.getConditions(), ConditionTypes.READY,
        empty ? ConditionTypes.FALSE : ConditionTypes.TRUE,
        empty ? "NoCapacity" : "CapacityKnown",
        empty ? "maxNodes is 0: nothing can be placed on this pool"
            : capacity + " GPUs of " + pool.getSpec().getGpu().getProduct() + ", " + allocated + " allocated",
        pool.getMetadata().getGeneration(), now));
    return status;
  }
}
