package dev.flotilla.sdk;

import java.time.Duration;
import java.util.List;

/**
 * One message of a streamed generation: new tokens, progress while a cold model starts, or the
 * final summary, which is always the last event of a successful stream.
 */
public sealed interface StreamEvent
    permits StreamEvent.Tokens, StreamEvent.Progress, StreamEvent.Finished {

  /**
   * Tokens generated since the previous event.
   *
   * @param text the new text
   * @param tokenIds the new token ids
   * @param logprobs their log-probabilities; empty unless requested
   * @param topLogprobs per token, the most likely tokens, most likely first; empty unless {@link
   *     CompletionRequest.Builder#topLogprobs(int)} was set
   * @param index the choice they continue, 0 .. n-1 ({@link CompletionRequest.Builder#n(int)})
   * @param toolCalls pieces of tool calls written since the previous event ({@code text} holds only
   *     the content around them)
   */
  record Tokens(
      String text,
      List<Integer> tokenIds,
      List<Float> logprobs,
      List<List<TopLogprob>> topLogprobs,
      int index,
      List<ToolCallDelta> toolCalls)
      implements StreamEvent {
    /**
     * Creates the event, copying the lists so it stays immutable.
     *
     * @param text the new text
     * @param tokenIds the new token ids
     * @param logprobs their log-probabilities, or empty
     * @param topLogprobs per token, the most likely tokens, or empty
     * @param index the choice they continue
     * @param toolCalls pieces of tool calls, or empty
     */
    public Tokens {
      tokenIds = List.copyOf(tokenIds);
      logprobs = List.copyOf(logprobs);
      topLogprobs = topLogprobs.stream().map(List::copyOf).toList();
      toolCalls = List.copyOf(toolCalls);
    }

    /**
     * Tokens without tool calls.
     *
     * @param text the new text
     * @param tokenIds the new token ids
     * @param logprobs their log-probabilities, or empty
     * @param topLogprobs per token, the most likely tokens, or empty
     * @param index the choice they continue
     */
    public Tokens(
        String text,
        List<Integer> tokenIds,
        List<Float> logprobs,
        List<List<TopLogprob>> topLogprobs,
        int index) {
      this(text, tokenIds, logprobs, topLogprobs, index, List.of());
    }

    /**
     * Tokens of choice {@code index} without alternatives.
     *
     * @param text the new text
     * @param tokenIds the new token ids
     * @param logprobs their log-probabilities, or empty
     * @param index the choice they continue
     */
    public Tokens(String text, List<Integer> tokenIds, List<Float> logprobs, int index) {
      this(text, tokenIds, logprobs, List.of(), index, List.of());
    }

    /**
     * Tokens of choice 0, the only choice of a request for one, without alternatives.
     *
     * @param text the new text
     * @param tokenIds the new token ids
     * @param logprobs their log-probabilities, or empty
     */
    public Tokens(String text, List<Integer> tokenIds, List<Float> logprobs) {
      this(text, tokenIds, logprobs, List.of(), 0, List.of());
    }
  }

  /**
   * How one choice of a request for several ended.
   *
   * @param index the choice
   * @param finishReason why its generation ended
   * @param completionTokens the tokens it generated
   */
  record ChoiceEnd(int index, FinishReason finishReason, int completionTokens) {}

  /**
   * The request is held while the model scales up from zero; sent only when {@link
   * CompletionRequest.Builder#reportProgress(boolean)} was set.
   *
   * @param phase what the request is waiting for
   * @param waited time since the gateway received the request
   * @param position requests ahead of this one for the same model
   */
  record Progress(Phase phase, Duration waited, int position) implements StreamEvent {

    /** What a held request is waiting for. */
    public enum Phase {
      /** Queued in the gateway behind other requests for this model. */
      QUEUED,
      /** No worker is ready; the autoscaler has been asked for one. */
      WAITING_FOR_WORKER,
      /** A worker is starting and loading the model. */
      WORKER_STARTING,
      /** The server did not say, or said something this SDK version does not know. */
      UNSPECIFIED
    }
  }

  /**
   * The end of a successful generation.
   *
   * @param requestId the request id the gateway used
   * @param finishReason why generation ended
   * @param usage tokens consumed
   * @param timings where the request spent its time
   * @param choices how each choice ended, in index order, for a request of several; else empty
   * @param toolCalls every tool call of the response, whole (the Tokens events streamed them)
   */
  record Finished(
      String requestId,
      FinishReason finishReason,
      Usage usage,
      Timings timings,
      List<ChoiceEnd> choices,
      List<ToolCall> toolCalls)
      implements StreamEvent {
    /**
     * Creates the event, copying the list so it stays immutable.
     *
     * @param requestId the request id the gateway used
     * @param finishReason why generation ended (choice 0's)
     * @param usage tokens consumed: the prompt once, every choice's completion
     * @param timings where the request spent its time
     * @param choices how each choice ended, or empty
     * @param toolCalls the response's tool calls, or empty
     */
    public Finished {
      choices = List.copyOf(choices);
      toolCalls = List.copyOf(toolCalls);
    }

    /**
     * The end of a response without tool calls.
     *
     * @param requestId the request id the gateway used
     * @param finishReason why generation ended (choice 0's)
     * @param usage tokens consumed
     * @param timings where the request spent its time
     * @param choices how each choice ended, or empty
     */
    public Finished(
        String requestId,
        FinishReason finishReason,
        Usage usage,
        Timings timings,
        List<ChoiceEnd> choices) {
      this(requestId, finishReason, usage, timings, choices, List.of());
    }

    /**
     * The end of a request for one choice.
     *
     * @param requestId the request id the gateway used
     * @param finishReason why generation ended
     * @param usage tokens consumed
     * @param timings where the request spent its time
     */
    public Finished(String requestId, FinishReason finishReason, Usage usage, Timings timings) {
      this(requestId, finishReason, usage, timings, List.of(), List.of());
    }
  }
}
