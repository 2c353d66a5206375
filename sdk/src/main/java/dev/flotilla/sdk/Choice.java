package dev.flotilla.sdk;

import java.util.List;

/**
 * One of the choices of {@link FlotillaClient#complete(CompletionRequest)} ({@link
 * CompletionRequest.Builder#n(int)}).
 *
 * @param index the choice, 0 .. n-1
 * @param text its generated text
 * @param tokenIds its generated token ids
 * @param logprobs the log-probability of each of its tokens; empty unless requested
 * @param finishReason why its generation ended
 */
public record Choice(
    int index,
    String text,
    List<Integer> tokenIds,
    List<Float> logprobs,
    FinishReason finishReason) {
  /**
   * Creates a choice, copying the lists so it stays immutable.
   *
   * @param index the choice
   * @param text its generated text
   * @param tokenIds its generated token ids
   * @param logprobs the log-probability of each of its tokens, or empty
   * @param finishReason why its generation ended
   */
  public Choice {
    tokenIds = List.copyOf(tokenIds);
    logprobs = List.copyOf(logprobs);
  }
}
