package dev.flotilla.operator.placement;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.crd.GpuNodePool;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.api.crd.Placement;
import dev.flotilla.operator.Fixtures;
import dev.flotilla.operator.model.EffectiveSpec;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PlacerTest {
  private static final GpuNodePool L4 = Fixtures.pool("l4-pool", "NVIDIA-L4", "24Gi", 1, 8, 0.7);
  private static final GpuNodePool L4_B = Fixtures.pool("l4-b", "NVIDIA-L4", "24Gi", 1, 8, 0.7);
  private static final GpuNodePool A100 = Fixtures.pool("a100", "NVIDIA-A100", "80Gi", 8, 2, 3.0);
  private static final long GIB = 1L << 30;

  private static PlacementDecision place(
      ModelDeployment md,
      MemoryNeed need,
      List<GpuNodePool> pools,
      Map<String, Integer> allocated,
      String current) {
    return Placer.place(EffectiveSpec.of(md.getSpec()), need, "unknown", pools, allocated, current);
  }

  private static MemoryNeed need(long weightsGib) {
    return new MemoryNeed(weightsGib * GIB, GIB, 0);
  }

  @Test
  void cheapestFittingPoolWins() {
    PlacementDecision d = place(Fixtures.model("m"), need(10), List.of(A100, L4), Map.of(), null);
    assertThat(d).isInstanceOf(PlacementDecision.OnPool.class);
    assertThat(((PlacementDecision.OnPool) d).pool()).isEqualTo("l4-pool");
    assertThat(d.reservedGpus()).isEqualTo(1);
  }

  @Test
  void modelTooBigForCheapPoolGoesToTheBigOne() {
    PlacementDecision d = place(Fixtures.model("m"), need(30), List.of(A100, L4), Map.of(), null);
    assertThat(((PlacementDecision.OnPool) d).pool()).isEqualTo("a100");
  }

  @Test
  void nothingBigEnoughNamesTheShortfall() {
    PlacementDecision d = place(Fixtures.model("m"), need(36), List.of(L4), Map.of(), null);
    assertThat(d.reason()).isEqualTo(PlacementDecision.INSUFFICIENT_MEMORY);
    assertThat(d.message())
        .startsWith("needs 37 GiB per replica (weights 36 GiB + KV cache and adapters 1 GiB)")
        .contains("largest pool offers 24 GiB");
  }

  @Test
  void twoGpusPerReplicaDoubleTheReplicaMemoryButMustFitOneNode() {
    ModelDeployment twoGpus = Fixtures.model("m", 2, 1);
    assertThat(place(twoGpus, need(36), List.of(L4), Map.of(), null).reason())
        .isEqualTo(PlacementDecision.TOO_MANY_GPUS);
    GpuNodePool l4x2 = Fixtures.pool("l4x2", "NVIDIA-L4", "24Gi", 2, 4, 0.7);
    assertThat(place(twoGpus, need(36), List.of(l4x2), Map.of(), null))
        .isInstanceOf(PlacementDecision.OnPool.class);
  }

  @Test
  void fullPoolSaysHowManyAreFree() {
    ModelDeployment md = Fixtures.model("m", 1, 4);
    PlacementDecision d = place(md, need(10), List.of(L4), Map.of("l4-pool", 6), null);
    assertThat(d.reason()).isEqualTo(PlacementDecision.INSUFFICIENT_CAPACITY);
    assertThat(d.message())
        .isEqualTo("pool l4-pool has 2 of 8 GPUs free, needs 4 (4 replicas × 1 GPUs)");
  }

  @Test
  void packingPrefersAPoolAlreadyInUseAtEqualCost() {
    PlacementDecision d =
        place(Fixtures.model("m"), need(10), List.of(L4, L4_B), Map.of("l4-pool", 1), null);
    assertThat(((PlacementDecision.OnPool) d).pool()).isEqualTo("l4-pool");
    d = place(Fixtures.model("m"), need(10), List.of(L4, L4_B), Map.of("l4-b", 1), null);
    assertThat(((PlacementDecision.OnPool) d).pool()).isEqualTo("l4-b");
  }

  @Test
  void namedPoolsAreAFilterInOrderOfPreference() {
    ModelDeployment md = Fixtures.onPools(Fixtures.model("m"), "a100", "l4-pool");
    assertThat(
            ((PlacementDecision.OnPool) place(md, need(10), List.of(L4, A100), Map.of(), null))
                .pool())
        .isEqualTo("a100");
    assertThat(
            ((PlacementDecision.OnPool)
                    place(md, need(10), List.of(L4, A100), Map.of("a100", 16), null))
                .pool())
        .isEqualTo("l4-pool");
  }

  @Test
  void missingNamedPool() {
    PlacementDecision d =
        place(Fixtures.onPools(Fixtures.model("m"), "h100"), need(10), List.of(L4), Map.of(), null);
    assertThat(d.reason()).isEqualTo(PlacementDecision.POOL_NOT_FOUND);
    assertThat(d.message()).isEqualTo("GpuNodePool h100 does not exist");
  }

  @Test
  void gpuProductFilters() {
    ModelDeployment md = Fixtures.model("m");
    Placement p = new Placement();
    p.setGpuProduct("NVIDIA-A100");
    md.getSpec().setPlacement(p);
    assertThat(
            ((PlacementDecision.OnPool) place(md, need(10), List.of(L4, A100), Map.of(), null))
                .pool())
        .isEqualTo("a100");
    p.setGpuProduct("NVIDIA-H100");
    assertThat(place(md, need(10), List.of(L4, A100), Map.of(), null).reason())
        .isEqualTo(PlacementDecision.NO_MATCHING_PRODUCT);
  }

  @Test
  void zeroGpusRunOnCpuUnlessGpuPoolsAreNamed() {
    assertThat(place(Fixtures.model("m", 0, 2), null, List.of(L4), Map.of(), null))
        .isInstanceOf(PlacementDecision.CpuOnly.class);
    PlacementDecision d =
        place(
            Fixtures.onPools(Fixtures.model("m", 0, 2), "l4-pool"),
            null,
            List.of(L4),
            Map.of(),
            null);
    assertThat(d.reason()).isEqualTo(PlacementDecision.ZERO_GPUS);
    assertThat(d.message()).contains("set resources.gpus to at least 1");
  }

  @Test
  void currentPoolIsKeptWhileItFitsEvenIfAnotherIsCheaper() {
    GpuNodePool pricey = Fixtures.pool("pricey", "NVIDIA-L4", "24Gi", 1, 8, 5.0);
    assertThat(
            ((PlacementDecision.OnPool)
                    place(Fixtures.model("m"), need(10), List.of(L4, pricey), Map.of(), "pricey"))
                .pool())
        .isEqualTo("pricey");
  }

  @Test
  void unknownWeightsSayHowToFixIt() {
    PlacementDecision d =
        Placer.place(
            EffectiveSpec.of(Fixtures.model("m").getSpec()),
            null,
            "set spec.model.weightsMemory",
            List.of(L4),
            Map.of(),
            null);
    assertThat(d.reason()).isEqualTo(PlacementDecision.WEIGHTS_UNKNOWN);
    assertThat(d.message()).isEqualTo("set spec.model.weightsMemory");
  }

  @Test
  void bookNeverOverCommitsAndForgetsDeletedDeployments() {
    PlacementBook book = new PlacementBook();
    ModelDeployment a = Fixtures.model("a", 1, 6);
    ModelDeployment b = Fixtures.model("b", 1, 6);
    List<ModelDeployment> both = List.of(a, b);
    PlacementDecision first =
        book.place(
            ResourceID.fromResource(a),
            both,
            allocated ->
                Placer.place(
                    EffectiveSpec.of(a.getSpec()), need(10), null, List.of(L4), allocated, null));
    PlacementDecision second =
        book.place(
            ResourceID.fromResource(b),
            both,
            allocated ->
                Placer.place(
                    EffectiveSpec.of(b.getSpec()), need(10), null, List.of(L4), allocated, null));
    assertThat(first).isInstanceOf(PlacementDecision.OnPool.class);
    assertThat(second.reason()).isEqualTo(PlacementDecision.INSUFFICIENT_CAPACITY);
    assertThat(second.message()).startsWith("pool l4-pool has 2 of 8 GPUs free, needs 6");

    PlacementDecision afterDelete =
        book.place(
            ResourceID.fromResource(b),
            List.of(b),
            allocated ->
                Placer.place(
                    EffectiveSpec.of(b.getSpec()), need(10), null, List.of(L4), allocated, null));
    assertThat(afterDelete).isInstanceOf(PlacementDecision.OnPool.class);
  }

  @Test
  void bookCountsDeploymentsPlacedBeforeARestartFromTheirStatus() {
    PlacementBook book = new PlacementBook();
    ModelDeployment placedEarlier = Fixtures.placedOn("old", "l4-pool", 1, 7);
    ModelDeployment fresh = Fixtures.model("new", 1, 2);
    PlacementDecision d =
        book.place(
            ResourceID.fromResource(fresh),
            List.of(placedEarlier, fresh),
            allocated ->
                Placer.place(
                    EffectiveSpec.of(fresh.getSpec()),
                    need(10),
                    null,
                    List.of(L4),
                    allocated,
                    null));
    assertThat(d.message()).startsWith("pool l4-pool has 1 of 8 GPUs free, needs 2");
  }
}
