package dev.flotilla.operator.md;

import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.operator.autoscaler.DemandStore;
import dev.flotilla.operator.placement.PlacementBook;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.ResourceEventAware;
import io.javaoperatorsdk.operator.processing.event.source.inbound.SimpleInboundEventSource;

/**
 * Wakes a ModelDeployment's reconcile when a gateway reports demand for it, and forgets what this
 * process keeps about a deployment (its demand, autoscaler memory, published decision and placement
 * promise) once it is deleted.
 *
 * <p>The delete hook is the SDK's primary-resource event, not a finalizer: everything forgotten
 * here lives in this process only, so a delete this process never sees (it was down, or not the
 * leader) leaves nothing behind in it, and a finalizer would only make deleting a model wait on the
 * operator.
 */
final class DemandEventSource extends SimpleInboundEventSource<ModelDeployment>
    implements ResourceEventAware<ModelDeployment> {
  private final DemandStore demand;
  private final PlacementBook book;

  DemandEventSource(DemandStore demand, PlacementBook book) {
    super("demand");
    this.demand = demand;
    this.book = book;
    demand.onDemand(this::propagateEvent);
  }

  @Override
  public void onResourceDeleted(ModelDeployment md) {
    ResourceID id = ResourceID.fromResource(md);
    demand.forget(id);
    book.release(id);
  }
}
