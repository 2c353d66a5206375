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
 * @param topLogprobs per token of this choice, the most likely tokens, most likely first; empty
 *     unless {@link CompletionRequest.Builder#topLogprobs(int)} was set
 * @param finishReason why its generation ended
 */
public record Choice(
    int index,
    String text,
    List<Integer> tokenIds,
    List<Float> logprobs,
    List<List<TopLogprob>> topLogprobs,
    FinishReason finishReason) {
  /**
   * Creates a choice, copying the lists so it stays immutable.
   *
   * @param index the choice
   * @param text its generated text
   * @param tokenIds its generated token ids
   * @param logprobs the log-probability of each of its tokens, or empty
   * @param topLogprobs per token, the most likely tokens, or empty
   * @param finishReason why its generation ended
   */
  public Choice {
    tokenIds = List.copyOf(tokenIds);
    logprobs = List.copyOf(logprobs);
    topLogprobs = topLogprobs.stream().map(List::copyOf).toList();
  }

  /**
   * Creates a choice without alternatives.
   *
   * @param index the choice
   * @param text its generated text
   * @param tokenIds its generated token ids
   * @param logprobs the log-probability of each of its tokens, or empty
   * @param finishReason why its generation ended
   */
  public Choice(
      int index,
      String text,
      List<Integer> tokenIds,
      List<Float> logprobs,
      FinishReason finishReason) {
    this(index, text, tokenIds, logprobs, List.of(), finishReason);
  }
}
