package dev.flotilla.worker.engine;

/**
 * Sizes of an {@link EngineContext}, mirroring {@code fl_context_params}.
 *
 * @param kvBlockSize tokens per KV block
 * @param kvBudgetBytes memory of the KV block pool; sets the number of blocks
 * @param maxBatchTokens most rows one decode may carry
 * @param maxSequences sequence ids are 0 .. maxSequences - 1
 * @param maxLoraRank largest adapter rank a decode accepts (1..256)
 * @param threads compute threads including the caller; 0 = from the machine
 * @param kvDtype element type of the KV cache (BF16 by default)
 */
public record ContextParams(
    int kvBlockSize,
    long kvBudgetBytes,
    int maxBatchTokens,
    int maxSequences,
    int maxLoraRank,
    int threads,
    KvDtype kvDtype) {

  public ContextParams {
    if (kvDtype == null) {
      throw new IllegalArgumentException("kvDtype must not be null");
    }
  }

  /** With the default KV dtype, BF16. */
  public ContextParams(
      int kvBlockSize,
      long kvBudgetBytes,
      int maxBatchTokens,
      int maxSequences,
      int maxLoraRank,
      int threads) {
    this(
        kvBlockSize,
        kvBudgetBytes,
        maxBatchTokens,
        maxSequences,
        maxLoraRank,
        threads,
        KvDtype.BF16);
  }

  public static ContextParams defaults() {
    return new ContextParams(16, 1L << 30, 512, 256, 64, 0, KvDtype.BF16);
  }

  public ContextParams withKvBudgetBytes(long value) {
    return new ContextParams(
        kvBlockSize, value, maxBatchTokens, maxSequences, maxLoraRank, threads, kvDtype);
  }

  public ContextParams withKvBlockSize(int value) {
    return new ContextParams(
        value, kvBudgetBytes, maxBatchTokens, maxSequences, maxLoraRank, threads, kvDtype);
  }

  public ContextParams withMaxBatchTokens(int value) {
    return new ContextParams(
        kvBlockSize, kvBudgetBytes, value, maxSequences, maxLoraRank, threads, kvDtype);
  }

  public ContextParams withMaxSequences(int value) {
    return new ContextParams(
        kvBlockSize, kvBudgetBytes, maxBatchTokens, value, maxLoraRank, threads, kvDtype);
  }

  public ContextParams withMaxLoraRank(int value) {
    return new ContextParams(
        kvBlockSize, kvBudgetBytes, maxBatchTokens, maxSequences, value, threads, kvDtype);
  }

  public ContextParams withThreads(int value) {
    return new ContextParams(
        kvBlockSize, kvBudgetBytes, maxBatchTokens, maxSequences, maxLoraRank, value, kvDtype);
  }

  public ContextParams withKvDtype(KvDtype value) {
    return new ContextParams(
        kvBlockSize, kvBudgetBytes, maxBatchTokens, maxSequences, maxLoraRank, threads, value);
  }
}
