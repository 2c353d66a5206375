package dev.flotilla.operator.placement;

import dev.flotilla.api.crd.KvCacheDtype;
import dev.flotilla.operator.files.ModelFiles;
import dev.flotilla.operator.model.EffectiveSpec;
import dev.flotilla.operator.model.Quantities;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Works out the GPU memory one replica needs. Weights come from {@code spec.model.weightsMemory},
 * or from the safetensors headers when the source is a {@code file://} directory the operator can
 * read. The KV cache takes {@code engine.kvCacheMemory}; its capacity in tokens follows {@code
 * engine.kvCacheDtype} (BF16: 2 bytes a value, twice the tokens of F32) where the shapes are known.
 * Resident adapters are paged in the KV cache's memory, so they add nothing beside it.
 */
public final class MemoryEstimator {
  /** The need, or why it is unknown. */
  public record Estimate(MemoryNeed need, String unknownReason) {}

  private MemoryEstimator() {}

  public static Estimate estimate(EffectiveSpec spec) {
    Optional<Path> dir = ModelFiles.localDirectory(spec.source());
    long weights;
    if (spec.weightsMemory() != null) {
      weights = Quantities.bytes(spec.weightsMemory());
    } else if (dir.isPresent()) {
      try {
        weights = ModelFiles.weightsBytes(dir.get(), spec.dtype());
      } catch (IOException | RuntimeException e) {
        return new Estimate(
            null,
            "cannot read the model's weights at "
                + spec.source()
                + " ("
                + e.getMessage()
                + "); set spec.model.weightsMemory");
      }
    } else {
      return new Estimate(
          null,
          "spec.model.weightsMemory is unset and the operator cannot read "
              + spec.source()
              + " to size the weights; set spec.model.weightsMemory (e.g. 16Gi)");
    }
    long kvBytes = Quantities.bytes(spec.kvCacheMemory());
    long kvTokens = 0;
    if (dir.isPresent()) {
      try {
        ModelFiles.Shapes shapes = ModelFiles.shapes(dir.get());
        kvTokens = kvBytes / kvBytesPerToken(shapes, spec.kvCacheDtype());
      } catch (IOException | RuntimeException e) {
        kvTokens = 0; // the tokens go unsaid; the bytes are known
      }
    }
    return new Estimate(new MemoryNeed(weights, kvBytes, kvTokens), null);
  }

  /** K and V of every layer for one position, in the cache's dtype. */
  static long kvBytesPerToken(ModelFiles.Shapes shapes, KvCacheDtype dtype) {
    return 2L * shapes.layers() * shapes.keyValueHeads() * shapes.headDim() * dtype.bytes();
  }
}
