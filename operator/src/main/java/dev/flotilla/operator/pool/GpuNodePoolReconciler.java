package dev.flotilla.operator.pool;

import dev.flotilla.api.crd.GpuNodePool;
import dev.flotilla.api.crd.GpuNodePoolStatus;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.operator.status.StatusDiff;
import dev.flotilla.operator.status.StatusWriter;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.MaxReconciliationInterval;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.Event;
import io.javaoperatorsdk.operator.processing.event.EventHandler;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Keeps each GpuNodePool's status (capacity, placements, allocation, Ready) true to its spec and to
 * the ModelDeployments placed on it. It is the only writer of pool status; the placement decisions
 * themselves are made (and guarded against over-commit) by the ModelDeployment reconciler, which
 * records them in each deployment's status.
 */
// Events keep pool status current (see DeploymentEvents); the periodic pass only heals what a
// missed event would leave behind.
@ControllerConfiguration(
    name = GpuNodePoolReconciler.NAME,
    maxReconciliationInterval =
        @MaxReconciliationInterval(interval = 60, timeUnit = TimeUnit.SECONDS))
public class GpuNodePoolReconciler implements Reconciler<GpuNodePool> {
  public static final String NAME = "gpunodepool";
  static final String BY_POOL = "byPool";

  private final Clock clock;
  private InformerEventSource<ModelDeployment, GpuNodePool> deployments;

  public GpuNodePoolReconciler(Clock clock) {
    this.clock = clock;
  }

  @Override
  public List<EventSource<?, GpuNodePool>> prepareEventSources(
      EventSourceContext<GpuNodePool> context) {
    deployments =
        new DeploymentEvents(
            InformerEventSourceConfiguration.from(ModelDeployment.class, GpuNodePool.class)
                .withSecondaryToPrimaryMapper(GpuNodePoolReconciler::poolOf)
                .build(),
            context);
    deployments.addIndexers(
        Map.of(BY_POOL, md -> pool(md) == null ? List.of() : List.of(pool(md))));
    return List.of(deployments);
  }

  /**
   * The pool a deployment's status names; a deleted deployment's last status names the pool it
   * leaves.
   */
  static Set<ResourceID> poolOf(ModelDeployment md) {
    String pool = pool(md);
    return pool == null ? Set.of() : Set.of(new ResourceID(pool));
  }

  private static String pool(ModelDeployment md) {
    return md == null || md.getStatus() == null ? null : md.getStatus().getPool();
  }

  /**
   * ModelDeployment events for the pools: the pool a deployment is on now (through the mapper) and,
   * when an update moved it off a pool (to another, or to none), the pool it left, which a mapper
   * cannot know since it sees only the new state.
   */
  static final class DeploymentEvents extends InformerEventSource<ModelDeployment, GpuNodePool> {
    DeploymentEvents(
        InformerEventSourceConfiguration<ModelDeployment> configuration,
        EventSourceContext<GpuNodePool> context) {
      super(configuration, context);
    }

    @Override
    public void onUpdate(ModelDeployment before, ModelDeployment after) {
      super.onUpdate(before, after);
      String left = pool(before);
      EventHandler handler = getEventHandler();
      if (left != null && !left.equals(pool(after)) && handler != null) {
        handler.handleEvent(new Event(new ResourceID(left)));
      }
    }
  }

  @Override
  public UpdateControl<GpuNodePool> reconcile(GpuNodePool pool, Context<GpuNodePool> context) {
    List<ModelDeployment> named = deployments.byIndex(BY_POOL, pool.getMetadata().getName());
    GpuNodePoolStatus desired =
        GpuNodePoolStatusModel.desired(
            pool, GpuNodePoolStatusModel.placements(pool, named), clock.instant());
    if (StatusDiff.differs(desired, pool.getStatus())
        && !StatusWriter.write(context, pool, desired)) {
      return UpdateControl.<GpuNodePool>noUpdate()
          .rescheduleAfter(StatusWriter.RETRY_AFTER_CONFLICT);
    }
    return UpdateControl.noUpdate();
  }
}
