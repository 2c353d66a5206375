package dev.flotilla.worker.scheduler;

/**
 * How a sequence ended.
 *
 * @param reason why generation stopped
 * @param promptTokens prompt length
 * @param completionTokens generated tokens, an end-of-sequence token included
 * @param queueNanos from arrival to first admission
 * @param firstTokenNanos from arrival to the first generated token
 * @param meanTokenGapNanos mean time between consecutive generated tokens (0 with fewer than two)
 * @param totalNanos from arrival to finish
 * @param preemptions how often the sequence was preempted and recomputed
 */
public record SequenceResult(
    FinishReason reason,
    int promptTokens,
    int completionTokens,
    long queueNanos,
    long firstTokenNanos,
    double meanTokenGapNanos,
    long totalNanos,
    int preemptions) {

  /** Why generation stopped. */
  public enum FinishReason {
    /** the model produced an end-of-sequence token */
    STOP,
    /** max tokens reached */
    LENGTH,
    /** a stop sequence matched */
    STOP_SEQUENCE,
    /** the context window is full */
    CONTEXT_LENGTH
  }
}
