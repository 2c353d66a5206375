package dev.flotilla.sdk;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;

/**
 * What to embed: an embedding model (and optional adapter) and its inputs, one vector each.
 *
 * @param model the base model's name
 * @param adapter the LoRA adapter's name; empty for the base model alone
 * @param inputs what to embed, in order; at least one
 * @param dimensions the vectors' length; 0 for the model's own (any other is refused)
 * @param requestId the id retries share; {@link #of} assigns a random UUID
 * @param deadline how long the call may take; empty for the client's default
 */
public record EmbeddingRequest(
    String model,
    String adapter,
    List<EmbeddingInput> inputs,
    int dimensions,
    String requestId,
    Optional<Duration> deadline) {

  public EmbeddingRequest {
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(adapter, "adapter");
    Objects.requireNonNull(requestId, "requestId");
    Objects.requireNonNull(deadline, "deadline");
    inputs = List.copyOf(inputs);
    if (model.isBlank()) {
      throw new IllegalArgumentException("model must not be blank");
    }
    if (inputs.isEmpty()) {
      throw new IllegalArgumentException("give at least one input");
    }
    if (dimensions < 0) {
      throw new IllegalArgumentException("dimensions must be >= 0 (0 = the model's)");
    }
  }

  /**
   * @param model an embedding model
   * @param inputs what to embed
   * @return a request for the base model with a fresh request id
   */
  public static EmbeddingRequest of(String model, List<EmbeddingInput> inputs) {
    return new EmbeddingRequest(
        model, "", inputs, 0, UUID.randomUUID().toString(), Optional.empty());
  }

  /**
   * @param adapter a LoRA adapter of the model
   * @return this request with the adapter
   */
  public EmbeddingRequest withAdapter(String adapter) {
    return new EmbeddingRequest(model, adapter, inputs, dimensions, requestId, deadline);
  }

  /**
   * @param dimensions the vectors' length the caller expects
   * @return this request asking for that length
   */
  public EmbeddingRequest withDimensions(int dimensions) {
    return new EmbeddingRequest(model, adapter, inputs, dimensions, requestId, deadline);
  }

  /**
   * @param deadline how long the call may take
   * @return this request with the deadline
   */
  public EmbeddingRequest withDeadline(Duration deadline) {
    return new EmbeddingRequest(
        model, adapter, inputs, dimensions, requestId, Optional.of(deadline));
  }
}
