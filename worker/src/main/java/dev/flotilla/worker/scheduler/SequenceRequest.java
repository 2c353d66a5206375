package dev.flotilla.worker.scheduler;

import dev.flotilla.worker.engine.SamplingParams;

/**
 * A validated generation request as the scheduler sees it.
 *
 * @param requestId the caller's id, for logs
 * @param adapter adapter name, or null for the base model
 * @param prompt prompt token ids (at least one)
 * @param sampling sampling parameters with the seed already chosen
 * @param maxTokens most tokens to generate (at least one)
 * @param limitedByContext whether {@code maxTokens} came from the context length (the caller gave
 *     none)
 * @param priority higher is admitted first
 * @param virtualTokenCounter among equal priorities, lower is admitted first
 * @param stopTokenIds tokens that end generation besides the model's end-of-sequence tokens
 * @param pooling for an embedding request, how its prompt's hidden states become one vector (it
 *     generates nothing and finishes after its last prompt chunk); null for generation
 */
public record SequenceRequest(
    String requestId,
    String adapter,
    int[] prompt,
    SamplingParams sampling,
    int maxTokens,
    boolean limitedByContext,
    int priority,
    double virtualTokenCounter,
    int[] stopTokenIds,
    Pooling pooling) {

  private static final SamplingParams UNUSED_SAMPLING = new SamplingParams(0, 0, 1, 0);

  public SequenceRequest {
    if (prompt.length == 0) {
      throw new IllegalArgumentException("empty prompt");
    }
    if (maxTokens < 1) {
      throw new IllegalArgumentException("maxTokens must be >= 1: " + maxTokens);
    }
    prompt = prompt.clone();
    stopTokenIds = stopTokenIds == null ? new int[0] : stopTokenIds.clone();
    adapter = adapter == null || adapter.isEmpty() ? null : adapter;
  }

  /** A generation request that ends at the model's end-of-sequence tokens or a stop token id. */
  public SequenceRequest(
      String requestId,
      String adapter,
      int[] prompt,
      SamplingParams sampling,
      int maxTokens,
      boolean limitedByContext,
      int priority,
      double virtualTokenCounter,
      int[] stopTokenIds) {
    this(
        requestId,
        adapter,
        prompt,
        sampling,
        maxTokens,
        limitedByContext,
        priority,
        virtualTokenCounter,
        stopTokenIds,
        null);
  }

  /** A generation request that ends only at the model's end-of-sequence tokens. */
  public SequenceRequest(
      String requestId,
      String adapter,
      int[] prompt,
      SamplingParams sampling,
      int maxTokens,
      boolean limitedByContext,
      int priority,
      double virtualTokenCounter) {
    this(
        requestId,
        adapter,
        prompt,
        sampling,
        maxTokens,
        limitedByContext,
        priority,
        virtualTokenCounter,
        new int[0],
        null);
  }

  /** An embedding request: a prefill of {@code prompt} pooled into one vector. */
  public static SequenceRequest embedding(
      String requestId,
      String adapter,
      int[] prompt,
      Pooling pooling,
      int priority,
      double virtualTokenCounter) {
    if (pooling == null) {
      throw new IllegalArgumentException("an embedding request needs a pooling");
    }
    return new SequenceRequest(
        requestId,
        adapter,
        prompt,
        UNUSED_SAMPLING,
        1,
        false,
        priority,
        virtualTokenCounter,
        new int[0],
        pooling);
  }

  /** Whether this request embeds its prompt instead of generating. */
  public boolean embeds() {
    return pooling != null;
  }
}
