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
 */
public record SequenceRequest(
    String requestId,
    String adapter,
    int[] prompt,
    SamplingParams sampling,
    int maxTokens,
    boolean limitedByContext,
    int priority,
    double virtualTokenCounter) {

  public SequenceRequest {
    if (prompt.length == 0) {
      throw new IllegalArgumentException("empty prompt");
    }
    if (maxTokens < 1) {
      throw new IllegalArgumentException("maxTokens must be >= 1: " + maxTokens);
    }
    prompt = prompt.clone();
    adapter = adapter == null || adapter.isEmpty() ? null : adapter;
  }
}
