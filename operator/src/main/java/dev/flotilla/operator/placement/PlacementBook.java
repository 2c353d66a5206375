package dev.flotilla.operator.placement;

import dev.flotilla.api.crd.ConditionTypes;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.operator.model.EffectiveSpec;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The GPUs promised on each pool, so that two deployments reconciled at the same time never both
 * take the last free GPUs. Decisions are made one at a time under this book's lock. What others
 * hold comes from the decisions made here, and for deployments not decided since this operator
 * started (a restart, a new leader) from their status ({@code status.pool} with {@code
 * Placed=True}). Deployments that no longer exist are forgotten.
 */
public final class PlacementBook {
  private record Entry(String pool, int gpus) {}

  private final Map<ResourceID, Entry> decided = new HashMap<>();

  /**
   * Runs {@code decide} with the GPUs others hold per pool and records its outcome for {@code
   * self}.
   *
   * @param all every ModelDeployment that exists now (the informer cache)
   */
  public synchronized PlacementDecision place(
      ResourceID self,
      List<ModelDeployment> all,
      Function<Map<String, Integer>, PlacementDecision> decide) {
    PlacementDecision decision = decide.apply(allocatedExcept(self, all));
    if (decision instanceof PlacementDecision.OnPool onPool) {
      decided.put(self, new Entry(onPool.pool(), onPool.reservedGpus()));
    } else {
      decided.put(self, new Entry(null, 0));
    }
    return decision;
  }

  /** Forgets a deployment, e.g. when it is deleted. */
  public synchronized void release(ResourceID self) {
    decided.remove(self);
  }

  synchronized Map<String, Integer> allocatedExcept(ResourceID self, List<ModelDeployment> all) {
    Map<String, Integer> allocated = new HashMap<>();
    Set<ResourceID> live = new HashSet<>();
    for (ModelDeployment md : all) {
      ResourceID id = ResourceID.fromResource(md);
      live.add(id);
      if (id.equals(self)) {
        continue;
      }
      Entry entry = decided.get(id);
      if (entry == null) {
        entry = fromStatus(md);
      }
      if (entry.pool() != null) {
        allocated.merge(entry.pool(), entry.gpus(), Integer::sum);
      }
    }
    decided.keySet().retainAll(live);
    return allocated;
  }

  /** What a deployment's status says it holds: its pool at maxReplicas × gpus, when placed. */
  private static Entry fromStatus(ModelDeployment md) {
    if (md.getStatus() == null
        || md.getStatus().getPool() == null
        || md.getStatus().getConditions().stream()
            .noneMatch(
                c ->
                    ConditionTypes.PLACED.equals(c.getType())
                        && ConditionTypes.TRUE.equals(c.getStatus()))) {
      return new Entry(null, 0);
    }
    try {
      return new Entry(md.getStatus().getPool(), EffectiveSpec.of(md.getSpec()).reservedGpus());
    } catch (IllegalArgumentException e) {
      return new Entry(null, 0);
    }
  }
}
