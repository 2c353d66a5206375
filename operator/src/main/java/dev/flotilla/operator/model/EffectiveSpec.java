package dev.flotilla.operator.model;

import dev.flotilla.api.crd.Dtype;
import dev.flotilla.api.crd.EngineLimits;
import dev.flotilla.api.crd.KvCacheDtype;
import dev.flotilla.api.crd.ModelDeploymentSpec;
import dev.flotilla.api.crd.ModelSource;
import dev.flotilla.api.crd.Placement;
import dev.flotilla.api.crd.ReplicaResources;
import dev.flotilla.api.crd.Scaling;
import java.time.Duration;
import java.util.List;

/**
 * A ModelDeployment's spec with the CRD's defaults filled in. The API server applies the schema
 * defaults, but objects built in code (and the in-memory server in tests) do not, so every reader
 * goes through here and the defaults live next to the schema's in one place.
 */
public record EffectiveSpec(
    String source,
    Dtype dtype,
    String weightsMemory,
    int maxBatchSize,
    int maxSequenceLength,
    String kvCacheMemory,
    int kvBlockSize,
    KvCacheDtype kvCacheDtype,
    Integer maxAdaptersResident,
    boolean prefixCache,
    int maxLoraRank,
    int threads,
    int gpus,
    String memory,
    String cpu,
    List<String> pools,
    String gpuProduct,
    int minReplicas,
    int maxReplicas,
    int targetConcurrency,
    Duration scaleToZeroAfter,
    Duration coldStartTimeout,
    Duration stableWindow,
    Duration panicWindow,
    double panicThreshold,
    Integer pinnedReplicas,
    String image) {

  public static EffectiveSpec of(ModelDeploymentSpec spec) {
    ModelSource model = spec.getModel() == null ? new ModelSource() : spec.getModel();
    EngineLimits engine = spec.getEngine() == null ? new EngineLimits() : spec.getEngine();
    ReplicaResources resources =
        spec.getResources() == null ? new ReplicaResources() : spec.getResources();
    Placement placement = spec.getPlacement() == null ? new Placement() : spec.getPlacement();
    Scaling scaling = spec.getScaling() == null ? new Scaling() : spec.getScaling();
    return new EffectiveSpec(
        model.getSource(),
        model.getDtype(),
        model.getWeightsMemory(),
        or(engine.getMaxBatchSize(), 32),
        or(engine.getMaxSequenceLength(), 2048),
        engine.getKvCacheMemory() == null ? "1Gi" : engine.getKvCacheMemory(),
        or(engine.getKvBlockSize(), 16),
        engine.getKvCacheDtype() == null ? KvCacheDtype.BF16 : engine.getKvCacheDtype(),
        engine.getMaxAdaptersResident(),
        engine.getPrefixCache() == null || engine.getPrefixCache(),
        or(engine.getMaxLoraRank(), 64),
        or(engine.getThreads(), 0),
        or(resources.getGpus(), 1),
        resources.getMemory(),
        resources.getCpu(),
        placement.getPools() == null ? List.of() : List.copyOf(placement.getPools()),
        placement.getGpuProduct(),
        or(scaling.getMinReplicas(), 0),
        or(scaling.getMaxReplicas(), 1),
        or(scaling.getTargetConcurrency(), 8),
        GoDurations.parse(scaling.getScaleToZeroAfter(), Duration.ofMinutes(5)),
        GoDurations.parse(scaling.getColdStartTimeout(), Duration.ofMinutes(2)),
        GoDurations.parse(scaling.getStableWindow(), Duration.ofSeconds(60)),
        GoDurations.parse(scaling.getPanicWindow(), Duration.ofSeconds(6)),
        scaling.getPanicThreshold() == null ? 2.0 : scaling.getPanicThreshold(),
        spec.getReplicas(),
        spec.getImage());
  }

  /** GPUs the deployment may hold at its largest: what placement reserves on a pool. */
  public int reservedGpus() {
    return maxReplicas * gpus;
  }

  private static int or(Integer value, int fallback) {
    return value == null ? fallback : value;
  }
}
