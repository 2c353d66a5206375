package dev.flotilla.worker.scheduler;

/**
 * Limits which tokens a sequence may sample next (structured output). One instance per sequence,
 * used on the engine thread only: before each sample the scheduler masks the logits with {@link
 * #allowedTokens()}, after it tells the constraint the token with {@link #accept(int)}.
 */
public interface TokenConstraint {

  /**
   * Bit set over the vocabulary ({@code (vocab + 31) / 32} words; bit {@code i % 32} of word {@code
   * i / 32} set = token {@code i} allowed). Never empty.
   *
   * @throws IllegalStateException when no token of the vocabulary may follow (the sequence fails
   *     with the message)
   */
  int[] allowedTokens();

  /** Moves past a token that {@link #allowedTokens()} allowed. */
  void accept(int token);
}
