package dev.flotilla.operator.pool;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.api.crd.GpuNodePool;
import dev.flotilla.api.crd.GpuNodePoolStatus;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import java.time.Clock;

/** Keeps each GpuNodePool's status (capacity, allocation, Ready) true to its spec. */
@ControllerConfiguration(name = "gpunodepool")
public class GpuNodePoolReconciler implements Reconciler<GpuNodePool> {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Clock clock = Clock.systemUTC();

  @Override
  public UpdateControl<GpuNodePool> reconcile(GpuNodePool pool, Context<GpuNodePool> context) {
    GpuNodePoolStatus desired = GpuNodePoolStatusModel.desired(pool, clock.instant());
    if (JSON.valueToTree(desired).equals(JSON.valueToTree(pool.getStatus()))) {
      return UpdateControl.noUpdate();
    }
    pool.setStatus(desired);
    return UpdateControl.patchStatus(pool);
  }
}
