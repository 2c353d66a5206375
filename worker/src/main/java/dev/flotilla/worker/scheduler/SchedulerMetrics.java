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

  /** Where a load brought an adapter into the engine from. */
  enum AdapterSource {
    /** its files: read, checked and converted */
    DISK,
    /** the host tier: no read */
    HOST
  }

  /** The tier an adapter was evicted from. */
  enum AdapterTier {
    /** the pool a step reads, into the host tier (or freed when that cannot hold it) */
    POOL,
    /** the host tier: freed */
    HOST
  }

  /** An adapter loaded from {@code source}, taking {@code nanos} (0 from the host tier). */
  default void adapterLoaded(AdapterSource source, long nanos) {}

  default void adapterLoadFailed(long nanos) {}

  default void adapterEvicted(AdapterTier from) {}
}
