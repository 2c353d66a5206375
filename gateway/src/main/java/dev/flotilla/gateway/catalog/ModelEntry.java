package dev.flotilla.gateway.catalog;

import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.api.crd.ModelDeploymentSpec;
import java.time.Duration;

/**
 * A ModelDeployment as the gateway routes to it.
 *
 * @param key {@code namespace/name}: the model's identity in queues, workers and usage events
 * @param maxSequenceLength 0 when the resource does not say
 * @param chatTemplate the built-in chat template named by the annotation {@value
 *     #CHAT_TEMPLATE_ANNOTATION}; null when the resource does not name one
 */
public record ModelEntry(
    String namespace,
    String name,
    int maxSequenceLength,
    Duration coldStartTimeout,
    String chatTemplate) {
  /** The CRD default of {@code scaling.coldStartTimeout}. */
  public static final Duration DEFAULT_COLD_START_TIMEOUT = Duration.ofMinutes(2);

  /** Names the model family's chat template for {@code /v1/chat/completions}. */
  public static final String CHAT_TEMPLATE_ANNOTATION = "flotilla.dev/chat-template";

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
    var annotations = md.getMetadata().getAnnotations();
    return new ModelEntry(
        md.getMetadata().getNamespace(),
        md.getMetadata().getName(),
        maxSeq,
        GoDuration.parse(timeout, DEFAULT_COLD_START_TIMEOUT),
        annotations == null ? null : annotations.get(CHAT_TEMPLATE_ANNOTATION));
  }
}
