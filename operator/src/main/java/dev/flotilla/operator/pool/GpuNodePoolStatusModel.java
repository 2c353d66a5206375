package dev.flotilla.operator.pool;

import dev.flotilla.api.crd.ConditionTypes;
import dev.flotilla.api.crd.GpuNodePool;
import dev.flotilla.api.crd.GpuNodePoolStatus;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.api.crd.PoolPlacement;
import dev.flotilla.operator.model.EffectiveSpec;
import dev.flotilla.operator.status.Conditions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;

/**
 * The status a GpuNodePool should have, computed without touching the API: its capacity from the
 * spec, and the ModelDeployments placed on it (those whose status names the pool with {@code
 * Placed=True}), each holding {@code maxReplicas × gpus} GPUs.
 */
public final class GpuNodePoolStatusModel {
  private GpuNodePoolStatusModel() {}

  public static int capacityGpus(GpuNodePool pool) {
    Integer perNode = pool.getSpec().getGpu().getPerNode();
    Integer maxNodes = pool.getSpec().getMaxNodes();
    return (maxNodes == null ? 0 : maxNodes) * (perNode == null ? 1 : perNode);
  }

  /** The placements on {@code pool} among {@code deployments}, sorted by namespace and name. */
  public static List<PoolPlacement> placements(
      GpuNodePool pool, Collection<ModelDeployment> deployments) {
    String name = pool.getMetadata().getName();
    List<PoolPlacement> placements = new ArrayList<>();
    for (ModelDeployment md : deployments) {
      if (md.getStatus() == null
          || !name.equals(md.getStatus().getPool())
          || md.getStatus().getConditions().stream()
              .noneMatch(
                  c ->
                      ConditionTypes.PLACED.equals(c.getType())
                          && ConditionTypes.TRUE.equals(c.getStatus()))) {
        continue;
      }
      EffectiveSpec spec;
      try {
        spec = EffectiveSpec.of(md.getSpec());
      } catch (IllegalArgumentException e) {
        continue;
      }
      PoolPlacement placement = new PoolPlacement();
      placement.setNamespace(md.getMetadata().getNamespace());
      placement.setName(md.getMetadata().getName());
      placement.setMaxReplicas(spec.maxReplicas());
      placement.setGpus(spec.reservedGpus());
      placements.add(placement);
    }
    placements.sort(
        Comparator.comparing(PoolPlacement::getNamespace).thenComparing(PoolPlacement::getName));
    return placements;
  }

  public static GpuNodePoolStatus desired(
      GpuNodePool pool, List<PoolPlacement> placements, Instant now) {
    GpuNodePoolStatus current =
        pool.getStatus() == null ? new GpuNodePoolStatus() : pool.getStatus();
    GpuNodePoolStatus status = new GpuNodePoolStatus();
    int capacity = capacityGpus(pool);
    int allocated = placements.stream().mapToInt(p -> p.getGpus() == null ? 0 : p.getGpus()).sum();
    Long generation = pool.getMetadata().getGeneration();
    status.setObservedGeneration(generation);
    status.setCapacityGpus(capacity);
    status.setAllocatedGpus(allocated);
    status.setPlacements(new ArrayList<>(placements));
    String product = pool.getSpec().getGpu().getProduct();
    if (capacity == 0) {
      status.setConditions(
          Conditions.set(
              current.getConditions(),
              ConditionTypes.READY,
              ConditionTypes.FALSE,
              "NoCapacity",
              "maxNodes is 0: nothing can be placed on this pool",
              generation,
              now));
    } else if (allocated > capacity) {
      // Only when the pool shrank under its deployments: placement itself never over-commits.
      status.setConditions(
          Conditions.set(
              current.getConditions(),
              ConditionTypes.READY,
              ConditionTypes.FALSE,
              "OverCommitted",
              allocated + " GPUs promised but the pool offers " + capacity + " GPUs of " + product,
              generation,
              now));
    } else {
      status.setConditions(
          Conditions.set(
              current.getConditions(),
              ConditionTypes.READY,
              ConditionTypes.TRUE,
              "CapacityKnown",
              capacity + " GPUs of " + product + ", " + allocated + " allocated",
              generation,
              now));
    }
    return status;
  }
}
