package dev.flotilla.worker.scheduler;

/**
 * What the scheduler reports as it runs; {@link #NONE} ignores it all. Called on the engine thread.
 */
public interface SchedulerMetrics {
  SchedulerMetrics NONE = new SchedulerMetrics() {};

  default void queued(long nanos) {}

  default void firstToken(long nanos) {}

  default void tokenGap(long nanos) {}

  default void tokensGenerated(int count) {}

  default void step(int sequences, int rows) {}

  /**
   * Prompt tokens a step computed (prefill rows, recomputation after preemption included); the
   * choices of one request share theirs, so they count once.
   */
  default void promptTokensComputed(int count) {}

  default void preempted() {}

  /**
   * A sequence offered {@code lookupTokens} tokens to the prefix cache and reused the KV of {@code
   * hitTokens} of them.
   */
  default void prefixLookup(int lookupTokens, int hitTokens) {}

  /**
   * The prefix cache holds {@code cachedBlocks} KV blocks, and took {@code newEvictions} cached
   * blocks for new data since the last call.
   */
  default void prefixCache(int cachedBlocks, long newEvictions) {}

  default void adapterLoaded(long nanos) {}

  default void adapterLoadFailed(long nanos) {}

  default void adapterEvicted() {}
}
