package dev.flotilla.sdk;

import java.util.List;

/**
 * The whole answer to {@link FlotillaClient#complete(CompletionRequest)}.
 *
 * @param text the generated text
 * @param tokenIds the generated token ids
 * @param logprobs the log-probability of each generated token; empty unless {@link
 *     CompletionRequest.Builder#logprobs(boolean)} was set
 * @param topLogprobs per token, the most likely tokens, most likely first; empty unless {@link
 *     CompletionRequest.Builder#topLogprobs(int)} was set
 * @param requestId the request id the gateway used, for support and usage reconciliation
 * @param finishReason why generation ended
 * @param usage tokens consumed
 * @param timings where the request spent its time
 * @param choices every choice in index order (one for a request of one); text, tokenIds, logprobs,
 *     topLogprobs and finishReason above are choice 0's
 * @param toolCalls the tool calls the model wrote (a chat request with tools); their text is not in
 *     {@code text}, and finishReason is {@link FinishReason#TOOL_CALLS}
 */
public record CompletionResult(
    String text,
    List<Integer> tokenIds,
    List<Float> logprobs,
    List<List<TopLogprob>> topLogprobs,
    String requestId,
    FinishReason finishReason,
    Usage usage,
    Timings timings,
    List<Choice> choices,
    List<ToolCall> toolCalls) {
  /**
   * Creates a result, copying the lists so it stays immutable.
   *
   * @param text the generated text
   * @param tokenIds the generated token ids
   * @param logprobs the log-probability of each generated token, or empty
   * @param topLogprobs per token, the most likely tokens, or empty
   * @param requestId the request id the gateway used
   * @param finishReason why generation ended
   * @param usage tokens consumed
   * @param timings where the request spent its time
   * @param choices every choice in index order
   * @param toolCalls the tool calls the model wrote, or empty
   */
  public CompletionResult {
    tokenIds = List.copyOf(tokenIds);
    logprobs = List.copyOf(logprobs);
    topLogprobs = topLogprobs.stream().map(List::copyOf).toList();
    choices = List.copyOf(choices);
    toolCalls = List.copyOf(toolCalls);
  }

  /**
   * A result without tool calls.
   *
   * @param text the generated text
   * @param tokenIds the generated token ids
   * @param logprobs the log-probability of each generated token, or empty
   * @param topLogprobs per token, the most likely tokens, or empty
   * @param requestId the request id the gateway used
   * @param finishReason why generation ended
   * @param usage tokens consumed
   * @param timings where the request spent its time
   * @param choices every choice in index order
   */
  public CompletionResult(
      String text,
      List<Integer> tokenIds,
      List<Float> logprobs,
      List<List<TopLogprob>> topLogprobs,
      String requestId,
      FinishReason finishReason,
      Usage usage,
      Timings timings,
      List<Choice> choices) {
    this(
        text,
        tokenIds,
        logprobs,
        topLogprobs,
        requestId,
        finishReason,
        usage,
        timings,
        choices,
        List.of());
  }

  /**
   * A result of one choice without alternatives, which is also its only entry in {@link
   * #choices()}.
   *
   * @param text the generated text
   * @param tokenIds the generated token ids
   * @param logprobs the log-probability of each generated token, or empty
   * @param requestId the request id the gateway used
   * @param finishReason why generation ended
   * @param usage tokens consumed
   * @param timings where the request spent its time
   */
  public CompletionResult(
      String text,
      List<Integer> tokenIds,
      List<Float> logprobs,
      String requestId,
      FinishReason finishReason,
      Usage usage,
      Timings timings) {
    this(
        text,
        tokenIds,
        logprobs,
        List.of(),
        requestId,
        finishReason,
        usage,
        timings,
        List.of(new Choice(0, text, tokenIds, logprobs, finishReason)),
        List.of());
  }
}
