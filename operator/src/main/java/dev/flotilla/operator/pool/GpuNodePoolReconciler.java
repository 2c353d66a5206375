package dev.flotilla.operator.pool;

import dev.flotilla.api.crd.ConditionTypes;
import dev.flotilla.api.crd.GpuNodePool;
import dev.flotilla.api.crd.GpuNodePoolStatus;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.operator.status.StatusDiff;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.MaxReconciliationInterval;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.Cache;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.time.Clock;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Keeps each GpuNodePool's status (capacity, placements, allocation, Ready) true to its spec and
 * to the ModelDeployments placed on it. It is the only writer of pool status; the placement
 * decisions themselves are made (and guarded against over-commit) by the ModelDeployment
 * reconciler, which records them in each deployment's status.
 */
// The periodic pass heals anything an event could not say (a deployment that left the pool).
@ControllerConfiguration(name = GpuNodePoolReconciler.NAME,
    maxReconciliationInterval = @MaxReconciliationInterval(interval = 60, timeUnit = TimeUnit.SECONDS))
public class GpuNodePoolReconciler implements Reconciler<GpuNodePool> {
  public static final String NAME = "gpunodepool";

  private final Clock clock;
  private InformerEventSource<ModelDeployment, GpuNodePool> deployments;

  public GpuNodePoolReconciler(Clock clock) {
    this.clock = clock;
  }

  @Override
  public List<EventSource<?, GpuNodePool>> prepareEventSources(EventSourceContext<GpuNodePool> context) {
    var pools = context.getPrimaryCache();
    deployments = new InformerEventSource<>(InformerEventSourceConfiguration
        .from(ModelDeployment.class, GpuNodePool.class)
        .withSecondaryToPrimaryMapper((ModelDeployment md) -> poolsConcerned(md, pools))
        .build(), context);
    return List.of(deployments);
  }

  /**
   * The pool a deployment is placed on. A deployment that is evaluated but not placed may have
   * just left a pool (the mapper only sees the new state), so every pool looks again.
   */
  static Set<ResourceID> poolsConcerned(ModelDeployment md, Cache<GpuNodePool> pools) {
    if (md.getStatus() == null) {
      return Set.of();
    }
    if (md.getStatus().getPool() != null) {
      return Set.of(new ResourceID(md.getStatus().getPool()));
    }
    boolean evaluated = md.getStatus().getConditions().stream().anyMatch(c -> ConditionTypes.PLACED.equals(c.getType()));
    return evaluated ? pools.list().map(ResourceID::fromResource).collect(Collectors.toSet()) : Set.of();
  }

  @Override
  public UpdateControl<GpuNodePool> reconcile(GpuNodePool pool, Context<GpuNodePool> context) {
    List<ModelDeployment> all = deployments.list().toList();
    GpuNodePoolStatus desired = GpuNodePoolStatusModel.desired(pool,
        GpuNodePoolStatusModel.placements(pool, all), clock.instant());
    if (!StatusDiff.differs(desired, pool.getStatus())) {
      return UpdateControl.noUpdate();
    }
    pool.setStatus(desired);
    return UpdateControl.patchStatus(pool);
  }
}
