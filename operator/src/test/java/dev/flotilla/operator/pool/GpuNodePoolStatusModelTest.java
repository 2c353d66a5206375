package dev.flotilla.operator.pool;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.crd.ConditionTypes;
import dev.flotilla.api.crd.GpuNodePool;
import dev.flotilla.api.crd.GpuNodePoolSpec;
import dev.flotilla.api.crd.GpuNodePoolStatus;
import dev.flotilla.api.crd.GpuSpec;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.api.crd.PoolPlacement;
import dev.flotilla.operator.Fixtures;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

public class GpuNodePoolStatusModelTest {
  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

  public static GpuNodePool pool(int maxNodes, Integer perNode) {
    GpuNodePool pool = new GpuNodePool();
    pool.setMetadata(new ObjectMetaBuilder().withName("l4").withGeneration(3L).build());
    GpuNodePoolSpec spec = new GpuNodePoolSpec();
    spec.setNodeSelector(Map.of("gpu", "l4"));
    GpuSpec gpu = new GpuSpec();
    gpu.setProduct("NVIDIA-L4");
    gpu.setMemory("24Gi");
    gpu.setPerNode(perNode);
    spec.setGpu(gpu);
    spec.setMaxNodes(maxNodes);
    pool.setSpec(spec);
    return pool;
  }

  @Test
  void capacityIsNodesTimesGpusPerNodeAndAllocationSumsPlacements() {
    GpuNodePool pool = pool(4, 2);
    PoolPlacement a = new PoolPlacement();
    a.setGpus(3);
    PoolPlacement b = new PoolPlacement();
    b.setGpus(2);

    GpuNodePoolStatus status = GpuNodePoolStatusModel.desired(pool, List.of(a, b), T0);

    assertThat(status.getCapacityGpus()).isEqualTo(8);
    assertThat(status.getAllocatedGpus()).isEqualTo(5);
    assertThat(status.getObservedGeneration()).isEqualTo(3L);
    assertThat(status.getConditions())
        .singleElement()
        .satisfies(
            c -> {
              assertThat(c.getType()).isEqualTo(ConditionTypes.READY);
              assertThat(c.getStatus()).isEqualTo(ConditionTypes.TRUE);
              assertThat(c.getMessage()).isEqualTo("8 GPUs of NVIDIA-L4, 5 allocated");
            });
  }

  @Test
  void placementsComeFromPlacedDeploymentsAtMaxReplicasTimesGpus() {
    GpuNodePool pool = pool(4, 2);
    ModelDeployment onPool = Fixtures.placedOn("a", "l4", 2, 3);
    ModelDeployment elsewhere = Fixtures.placedOn("b", "other", 1, 1);
    ModelDeployment unplaced = Fixtures.model("c");

    List<PoolPlacement> placements =
        GpuNodePoolStatusModel.placements(pool, List.of(onPool, elsewhere, unplaced));

    assertThat(placements)
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.getName()).isEqualTo("a");
              assertThat(p.getMaxReplicas()).isEqualTo(3);
              assertThat(p.getGpus()).isEqualTo(6);
            });
  }

  @Test
  void shrunkPoolUnderItsDeploymentsSaysOverCommitted() {
    PoolPlacement big = new PoolPlacement();
    big.setGpus(6);
    Condition ready =
        GpuNodePoolStatusModel.desired(pool(2, 2), List.of(big), T0).getConditions().get(0);
    assertThat(ready.getStatus()).isEqualTo(ConditionTypes.FALSE);
    assertThat(ready.getReason()).isEqualTo("OverCommitted");
  }

  @Test
  void poolWithoutNodesIsNotReadyAndSaysWhy() {
    GpuNodePoolStatus status = GpuNodePoolStatusModel.desired(pool(0, null), List.of(), T0);
    Condition ready = status.getConditions().get(0);
    assertThat(ready.getStatus()).isEqualTo(ConditionTypes.FALSE);
    assertThat(ready.getReason()).isEqualTo("NoCapacity");
  }

  @Test
  void transitionTimeKeptWhileStatusUnchangedAndMovedWhenItFlips() {
    GpuNodePool pool = pool(2, 1);
    pool.setStatus(GpuNodePoolStatusModel.desired(pool, List.of(), T0));

    GpuNodePoolStatus later = GpuNodePoolStatusModel.desired(pool, List.of(), T0.plusSeconds(60));
    assertThat(later.getConditions().get(0).getLastTransitionTime()).isEqualTo(T0.toString());

    pool.setStatus(later);
    pool.getSpec().setMaxNodes(0);
    GpuNodePoolStatus flipped =
        GpuNodePoolStatusModel.desired(pool, List.of(), T0.plusSeconds(120));
    assertThat(flipped.getConditions().get(0).getLastTransitionTime())
        .isEqualTo(T0.plusSeconds(120).toString());
  }
}
