package dev.flotilla.sdk;

import java.util.List;

/**
 * The whole answer to {@link FlotillaClient#complete(CompletionRequest)}.
 *
 * @param text the generated text
 * @param tokenIds the generated token ids
 * @param logprobs the log-probability of each generated token; empty unless {@link
 *     CompletionRequest.Builder#logprobs(boolean)} was set
 * @param requestId the request id the gateway used, for support and usage reconciliation
 * @param finishReason why generation ended
 * @param usage tokens consumed
 * @param timings where the request spent its time
 */
public record CompletionResult(
    String text,
    List<Integer> tokenIds,
    List<Float> logprobs,
    String requestId,
    FinishReason finishReason,
    Usage usage,
    Timings timings) {
  /**
   * Creates a result, copying the lists so it stays immutable.
   *
   * @param text the generated text
   * @param tokenIds the generated token ids
   * @param logprobs the log-probability of each generated token, or empty
   * @param requestId the request id the gateway used
   * @param finishReason why generation ended
   * @param usage tokens consumed
   * @param timings where the request spent its time
   */
  public CompletionResult {
    tokenIds = List.copyOf(tokenIds);
    logprobs = List.copyOf(logprobs);
  }
}
