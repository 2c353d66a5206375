package dev.flotilla.operator;

import dev.flotilla.api.crd.ConditionTypes;
import dev.flotilla.api.crd.EngineLimits;
import dev.flotilla.api.crd.GpuNodePool;
import dev.flotilla.api.crd.GpuNodePoolSpec;
import dev.flotilla.api.crd.GpuSpec;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.api.crd.ModelDeploymentSpec;
import dev.flotilla.api.crd.ModelDeploymentStatus;
import dev.flotilla.api.crd.ModelSource;
import dev.flotilla.api.crd.Placement;
import dev.flotilla.api.crd.ReplicaResources;
import dev.flotilla.api.crd.Scaling;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.TolerationBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Custom resources for tests, with the fields a test does not care about set to sensible values.
 */
public final class Fixtures {
  public static final String NAMESPACE = "models";

  private Fixtures() {}

  /**
   * A 1-GPU model needing 10 GiB weights + 1 GiB KV cache (adapters paged inside it, at most 2
   * resident)… sized by weightsMemory.
   */
  public static ModelDeployment model(String name) {
    ModelDeployment md = new ModelDeployment();
    md.setMetadata(
        new ObjectMetaBuilder()
            .withName(name)
            .withNamespace(NAMESPACE)
            .withUid("uid-" + name)
            .withGeneration(1L)
            .build());
    ModelDeploymentSpec spec = new ModelDeploymentSpec();
    ModelSource source = new ModelSource();
    source.setSource("pvc://models/" + name);
    source.setWeightsMemory("10Gi");
    spec.setModel(source);
    EngineLimits engine = new EngineLimits();
    engine.setKvCacheMemory("1Gi");
    engine.setMaxAdaptersResident(2);
    spec.setEngine(engine);
    ReplicaResources resources = new ReplicaResources();
    resources.setGpus(1);
    resources.setMemory("8Gi");
    resources.setCpu("2");
    spec.setResources(resources);
    Scaling scaling = new Scaling();
    scaling.setMinReplicas(0);
    scaling.setMaxReplicas(1);
    spec.setScaling(scaling);
    md.setSpec(spec);
    return md;
  }

  public static ModelDeployment model(String name, int gpus, int maxReplicas) {
    ModelDeployment md = model(name);
    md.getSpec().getResources().setGpus(gpus);
    md.getSpec().getScaling().setMaxReplicas(maxReplicas);
    return md;
  }

  public static ModelDeployment onPools(ModelDeployment md, String... pools) {
    Placement placement =
        md.getSpec().getPlacement() == null ? new Placement() : md.getSpec().getPlacement();
    placement.setPools(List.of(pools));
    md.getSpec().setPlacement(placement);
    return md;
  }

  /** A model whose status says it is placed on {@code pool}. */
  public static ModelDeployment placedOn(String name, String pool, int gpus, int maxReplicas) {
    ModelDeployment md = model(name, gpus, maxReplicas);
    ModelDeploymentStatus status = new ModelDeploymentStatus();
    status.setPool(pool);
    status.setConditions(
        new ArrayList<>(
            List.of(
                new ConditionBuilder()
                    .withType(ConditionTypes.PLACED)
                    .withStatus(ConditionTypes.TRUE)
                    .withReason("Placed")
                    .build())));
    md.setStatus(status);
    return md;
  }

  public static GpuNodePool pool(
      String name, String product, String memory, int perNode, int maxNodes, double cost) {
    GpuNodePool pool = new GpuNodePool();
    pool.setMetadata(new ObjectMetaBuilder().withName(name).withGeneration(1L).build());
    GpuNodePoolSpec spec = new GpuNodePoolSpec();
    spec.setNodeSelector(Map.of("flotilla.dev/pool", name));
    spec.setTolerations(
        List.of(
            new TolerationBuilder()
                .withKey("nvidia.com/gpu")
                .withOperator("Exists")
                .withEffect("NoSchedule")
                .build()));
    GpuSpec gpu = new GpuSpec();
    gpu.setProduct(product);
    gpu.setMemory(memory);
    gpu.setPerNode(perNode);
    spec.setGpu(gpu);
    spec.setMaxNodes(maxNodes);
    spec.setCostPerGpuHour(cost);
    pool.setSpec(spec);
    return pool;
  }
}
