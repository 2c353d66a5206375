package dev.flotilla.gateway.catalog;

import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.api.crd.ModelDeploymentSpec;
import java.time.Duration;

/**
 * A ModelDeployment as the gateway routes to it.
 *
 * @param key {@code namespace/name}: the model's identity in queues, workers and usage events
 * @param maxSequenceLength 0 when the resource does not say
 */
public record ModelEntry(
    String namespace, String name, int maxSequenceLength, Duration coldStartTimeout) {
  /** The CRD default of {@code scaling.coldStartTimeout}. */
  public static final Duration DEFAULT_COLD_START_TIMEOUT = Duration.ofMinutes(2);

  public String key() {
    return namespace + "/" + name;
  }

  public static ModelEntry from(ModelDeployment md) {
    ModelDeploymentSpec spec = md.getSpec();
    int maxSeq =
        spec != null && spec.getEngine() != null && spec.getEngine().getMaxSequenceLength() != null
            ? spec.getEngine().getMaxSequenceLength()
            : 0;
    String timeout =
        spec != null && spec.getScaling() != null ? spec.getScaling().getColdStartTimeout() : null;
    return new ModelEntry(
        md.getMetadata().getNamespace(),
        md.getMetadata().getName(),
        maxSeq,
        GoDuration.parse(timeout, DEFAULT_COLD_START_TIMEOUT));
  }
}
