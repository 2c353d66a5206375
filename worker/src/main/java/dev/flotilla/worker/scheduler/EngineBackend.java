package dev.flotilla.worker.scheduler;

import dev.flotilla.worker.engine.KvStats;
import dev.flotilla.worker.engine.PrefixMatch;
import dev.flotilla.worker.engine.SampledToken;
import dev.flotilla.worker.engine.SamplingParams;
import dev.flotilla.worker.engine.SequenceTokens;
import java.nio.file.Path;

/**
 * What the {@link Scheduler} needs from an engine: one batched step over rows, sampling from the
 * step's logits, per-sequence KV release and adapters. {@link NativeEngineBackend} is the real
 * engine; tests use a fake so the policy can be checked step by step.
 *
 * <p>Everything except {@link #loadAdapter} runs on the scheduler's engine thread.
 */
public interface EngineBackend extends AutoCloseable {

  int vocabSize();

  /** Sequence ids are {@code 0 .. maxSequences() - 1}. */
  int maxSequences();

  KvStats kvStats();

  /** Starts a new step's batch. */
  void clearBatch();

  /** Appends a row; {@code adapter} null means the base model. */
  void addRow(int token, int seqId, int position, LoadedAdapter adapter, boolean wantLogits);

  /**
   * Appends a row that may also want its final hidden state (after the model's final norm), which
   * embeddings pool.
   */
  default void addRow(
      int token,
      int seqId,
      int position,
      LoadedAdapter adapter,
      boolean wantLogits,
      boolean wantHidden) {
    if (wantHidden) {
      throw new UnsupportedOperationException("this engine outputs no hidden states");
    }
    addRow(token, seqId, position, adapter, wantLogits);
  }

  /** Length of a hidden state: the model's hidden size. */
  default int hiddenSize() {
    throw new UnsupportedOperationException("this engine outputs no hidden states");
  }

  /** The {@code hiddenRow}-th wanted hidden state of the last step. */
  default float[] hidden(int hiddenRow) {
    throw new UnsupportedOperationException("this engine outputs no hidden states");
  }

  /**
   * Runs the step.
   *
   * @throws dev.flotilla.worker.engine.KvCacheFullException when the step needs more KV blocks than
   *     are free; nothing changed
   */
  void decode();

  /**
   * Masks the {@code logitRow}-th wanted row of the last step before it is sampled: tokens whose
   * bit is clear in {@code allowedBits} cannot be picked (see {@link TokenConstraint}).
   */
  default void maskLogits(int logitRow, int[] allowedBits) {
    throw new UnsupportedOperationException("this engine cannot mask logits");
  }

  /**
   * Samples from the {@code logitRow}-th wanted row of the last step for a sequence whose tokens
   * (and the step: tokens generated so far) are {@code sequence}.
   */
  SampledToken sample(int logitRow, SamplingParams params, SequenceTokens sequence);

  void freeSequence(int seqId);

  /**
   * Gives the empty sequence {@code dstSeqId} the KV cache of {@code srcSeqId} (shared, not
   * recomputed).
   *
   * @throws dev.flotilla.worker.engine.KvCacheFullException when no block is free for the copy
   */
  void forkSequence(int srcSeqId, int dstSeqId);

  /**
   * Gives the empty sequence {@code seqId} the KV blocks the engine has cached for the longest
   * prefix of {@code tokens[0 .. length)} computed with {@code adapter} (null: the base model);
   * returns the positions it now holds (whole blocks, at most {@code length - 1}). An engine
   * without a prefix cache holds none.
   */
  default int adoptPrefix(int seqId, int[] tokens, int length, LoadedAdapter adapter) {
    return 0;
  }

  /** What {@link #adoptPrefix} would reuse now, changing nothing. */
  default PrefixMatch lookupPrefix(int[] tokens, int length, LoadedAdapter adapter) {
    return new PrefixMatch(0, 0);
  }

  /**
   * Frees up to {@code maxBlocks} reclaimable cached KV blocks, least recently released first, none
   * released after the stamp {@code notAfter} (a {@link KvStats#lruClock()} value); returns how
   * many. An engine without a prefix cache has none.
   */
  default int reclaimCachedBlocks(long notAfter, int maxBlocks) {
    return 0;
  }

  /** Loads and validates an adapter; safe to call from any thread. */
  LoadedAdapter loadAdapter(String name, Path dir);

  /** Frees an adapter; never while a step that uses it runs. */
  void freeAdapter(LoadedAdapter adapter);

  @Override
  void close();
}
