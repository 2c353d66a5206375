package dev.flotilla.sdk;

import java.util.List;

/**
 * A base model the caller may use, with the adapters available on it.
 *
 * @param name the name to pass as {@link CompletionRequest.Builder#model(String)}
 * @param adapters adapters the caller may use with this model
 * @param maxSequenceLength the longest prompt plus completion the model accepts, in tokens
 * @param readyReplicas workers ready right now; 0 means the next request waits for a cold start
 */
public record ModelDescription(
    String name, List<AdapterDescription> adapters, int maxSequenceLength, int readyReplicas) {
  /**
   * Creates a description, copying the adapter list so it stays immutable.
   *
   * @param name the model's name
   * @param adapters adapters the caller may use with this model
   * @param maxSequenceLength the longest prompt plus completion, in tokens
   * @param readyReplicas workers ready right now
   */
  public ModelDescription {
    adapters = List.copyOf(adapters);
  }
}
