package dev.flotilla.operator.placement;

import dev.flotilla.api.crd.GpuNodePool;
import dev.flotilla.operator.model.EffectiveSpec;
import dev.flotilla.operator.model.Quantities;
import dev.flotilla.operator.pool.GpuNodePoolStatusModel;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Chooses a GpuNodePool for a ModelDeployment. Pure: the pools, what other deployments already hold
 * on them and the memory one replica needs come in; a decision with a human reason goes out.
 *
 * <p>A pool fits when one node's GPUs hold a replica ({@code gpus ≤ gpu.perNode}), the GPU memory
 * of a replica ({@code gpu.memory × gpus}) holds weights + KV cache + adapter slots, and the pool
 * has {@code maxReplicas × gpus} GPUs not promised to others. Among fitting pools: the current pool
 * if it still fits (moving rolls every worker); else the first in {@code placement.pools} order
 * when the user gave one; else the cheapest per GPU-hour, then one already in use (packing), then
 * the one with the least room left (best fit), then by name.
 */
public final class Placer {
  private Placer() {}

  /**
   * @param memory GPU memory one replica needs; {@code null} when it could not be worked out, with
   *     {@code memoryUnknownReason} saying why
   * @param allocatedByOthers pool name → GPUs reserved there by other deployments
   * @param currentPool the pool the deployment is on now, or {@code null}
   */
  public static PlacementDecision place(
      EffectiveSpec spec,
      MemoryNeed memory,
      String memoryUnknownReason,
      List<GpuNodePool> pools,
      Map<String, Integer> allocatedByOthers,
      String currentPool) {
    Map<String, GpuNodePool> byName = new LinkedHashMap<>();
    pools.stream()
        .sorted(Comparator.comparing(p -> p.getMetadata().getName()))
        .forEach(p -> byName.put(p.getMetadata().getName(), p));
    List<String> named = spec.pools();

    if (spec.minReplicas() > spec.maxReplicas()) {
      return new PlacementDecision.Unplaced(
          PlacementDecision.INVALID_SPEC,
          "scaling.minReplicas "
              + spec.minReplicas()
              + " is greater than scaling.maxReplicas "
              + spec.maxReplicas());
    }
    if (spec.gpus() == 0) {
      if (!named.isEmpty()) {
        return new PlacementDecision.Unplaced(
            PlacementDecision.ZERO_GPUS,
            "resources.gpus is 0 but placement.pools names"
                + " GPU pools "
                + named
                + ": set resources.gpus to at least 1, or remove placement.pools to run on CPU");
      }
      return new PlacementDecision.CpuOnly();
    }

    List<GpuNodePool> candidates = new ArrayList<>();
    List<String> missing = new ArrayList<>();
    if (named.isEmpty()) {
      candidates.addAll(byName.values());
    } else {
      for (String name : named) {
        if (byName.containsKey(name)) {
          candidates.add(byName.get(name));
        } else {
          missing.add(name);
        }
      }
    }
    if (candidates.isEmpty()) {
      return new PlacementDecision.Unplaced(
          PlacementDecision.POOL_NOT_FOUND,
          named.isEmpty()
              ? "no GpuNodePool exists"
              : (missing.size() == 1
                  ? "GpuNodePool " + missing.get(0) + " does not exist"
                  : "GpuNodePools " + String.join(", ", missing) + " do not exist"));
    }
    if (spec.gpuProduct() != null) {
      List<GpuNodePool> matching =
          candidates.stream()
              .filter(p -> spec.gpuProduct().equalsIgnoreCase(p.getSpec().getGpu().getProduct()))
              .toList();
      if (matching.isEmpty()) {
        return new PlacementDecision.Unplaced(
            PlacementDecision.NO_MATCHING_PRODUCT,
            "no allowed GpuNodePool offers "
                + spec.gpuProduct()
                + " ("
                + candidates.stream()
                    .map(p -> p.getMetadata().getName() + ": " + p.getSpec().getGpu().getProduct())
                    .collect(Collectors.joining(", "))
                + ")");
      }
      candidates = matching;
    }
    if (memory == null) {
      return new PlacementDecision.Unplaced(PlacementDecision.WEIGHTS_UNKNOWN, memoryUnknownReason);
    }

    List<GpuNodePool> nodeFit = candidates.stream().filter(p -> perNode(p) >= spec.gpus()).toList();
    if (nodeFit.isEmpty()) {
      int most = candidates.stream().mapToInt(Placer::perNode).max().orElse(0);
      return new PlacementDecision.Unplaced(
          PlacementDecision.TOO_MANY_GPUS,
          "needs " + spec.gpus() + " GPUs on one node per replica, the largest nodes have " + most);
    }
    long need = memory.totalBytes();
    List<GpuNodePool> memoryFit =
        nodeFit.stream().filter(p -> replicaMemory(p, spec.gpus()) >= need).toList();
    if (memoryFit.isEmpty()) {
      GpuNodePool largest =
          nodeFit.stream().max(Comparator.comparingLong(p -> replicaMemory(p, spec.gpus()))).get();
      return new PlacementDecision.Unplaced(
          PlacementDecision.INSUFFICIENT_MEMORY,
          "needs "
              + Quantities.human(need)
              + " per replica ("
              + memory.breakdown()
              + "), largest pool offers "
              + Quantities.human(replicaMemory(largest, spec.gpus()))
              + " ("
              + largest.getMetadata().getName()
              + ": "
              + spec.gpus()
              + " × "
              + largest.getSpec().getGpu().getMemory()
              + ")");
    }
    int reserve = spec.reservedGpus();
    List<GpuNodePool> roomy =
        memoryFit.stream().filter(p -> free(p, allocatedByOthers) >= reserve).toList();
    if (roomy.isEmpty()) {
      return new PlacementDecision.Unplaced(
          PlacementDecision.INSUFFICIENT_CAPACITY,
          memoryFit.stream()
                  .map(
                      p ->
                          "pool "
                              + p.getMetadata().getName()
                              + " has "
                              + Math.max(0, free(p, allocatedByOthers))
                              + " of "
                              + GpuNodePoolStatusModel.capacityGpus(p)
                              + " GPUs free")
                  .collect(Collectors.joining("; "))
              + ", needs "
              + reserve
              + " ("
              + spec.maxReplicas()
              + " replicas × "
              + spec.gpus()
              + " GPUs)");
    }

    GpuNodePool chosen =
        roomy.stream()
            .filter(p -> p.getMetadata().getName().equals(currentPool))
            .findFirst()
            .orElseGet(
                () ->
                    named.isEmpty()
                        ? roomy.stream()
                            .min(
                                Comparator.comparingDouble((GpuNodePool p) -> cost(p))
                                    .thenComparing(
                                        p ->
                                            allocatedByOthers.getOrDefault(
                                                        p.getMetadata().getName(), 0)
                                                    > 0
                                                ? 0
                                                : 1)
                                    .thenComparingInt(p -> free(p, allocatedByOthers))
                                    .thenComparing(p -> p.getMetadata().getName()))
                            .get()
                        : roomy.get(0));
    String name = chosen.getMetadata().getName();
    return new PlacementDecision.OnPool(
        name,
        reserve,
        "placed on "
            + name
            + ": "
            + reserve
            + " of "
            + GpuNodePoolStatusModel.capacityGpus(chosen)
            + " GPUs reserved, "
            + Quantities.human(need)
            + " of "
            + Quantities.human(replicaMemory(chosen, spec.gpus()))
            + " GPU memory per replica used");
  }

  static int perNode(GpuNodePool pool) {
    Integer perNode = pool.getSpec().getGpu().getPerNode();
    return perNode == null ? 1 : perNode;
  }

  static long replicaMemory(GpuNodePool pool, int gpus) {
    return Quantities.bytes(pool.getSpec().getGpu().getMemory()) * gpus;
  }

  private static int free(GpuNodePool pool, Map<String, Integer> allocatedByOthers) {
    return GpuNodePoolStatusModel.capacityGpus(pool)
        - allocatedByOthers.getOrDefault(pool.getMetadata().getName(), 0);
  }

  private static double cost(GpuNodePool pool) {
    return pool.getSpec().getCostPerGpuHour() == null ? 0 : pool.getSpec().getCostPerGpuHour();
  }
}
