package dev.flotilla.worker.engine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A KV cache, step scratch and compute threads for one model. One thread at a time: the scheduler
 * owns it.
 */
public final class EngineContext extends NativeHandle {
  private final Model model;
  private final ContextParams params;

  EngineContext(Model model, long handle, ContextParams params) {
    super(handle, "engine context");
    this.model = model;
    this.params = params;
  }

  public ContextParams params() {
    return params;
  }

  /** A direct buffer for the logits of {@code rows} rows: float32 [rows, vocab], native order. */
  public ByteBuffer allocateLogits(int rows) {
    return ByteBuffer.allocateDirect(Math.multiplyExact(rows, model.info().vocabSize()) * 4)
        .order(ByteOrder.nativeOrder());
  }

  /**
   * A direct buffer for the final hidden states of {@code rows} rows: float32 [rows, hidden],
   * native order.
   */
  public ByteBuffer allocateHidden(int rows) {
    return ByteBuffer.allocateDirect(Math.multiplyExact(rows, model.info().hiddenSize()) * 4)
        .order(ByteOrder.nativeOrder());
  }

  /**
   * Runs one step over the batch and writes the logits of its wanted rows to {@code logits}
   * (float32 [batch.logitRows(), vocab], direct, native order).
   *
   * @throws KvCacheFullException when the step needs more KV blocks than are free; nothing changed
   * @throws InvalidEngineArgumentException for a bad row (named in the message)
   */
  public void decode(Batch batch, ByteBuffer logits) {
    decode(batch, logits, null);
  }

  /**
   * Runs one step as {@link #decode(Batch, ByteBuffer)} and also writes the final hidden state
   * (after the model's final norm) of the rows that want it to {@code hidden} (float32
   * [batch.hiddenRows(), hidden], direct, native order).
   *
   * @throws UnsupportedModelException on a backend without hidden output (CUDA), naming it
   */
  public void decode(Batch batch, ByteBuffer logits, ByteBuffer hidden) {
    if (logits != null && !logits.isDirect()) {
      throw new IllegalArgumentException("logits must be a direct buffer");
    }
    if (hidden != null && !hidden.isDirect()) {
      throw new IllegalArgumentException("hidden must be a direct buffer");
    }
    NativeEngine.decode(
        handle(),
        batch.size(),
        batch.tokens(),
        batch.seqIds(),
        batch.positions(),
        batch.adapters(),
        batch.wantLogits(),
        logits,
        batch.wantHidden(),
        hidden);
  }

  /** Releases a sequence's KV blocks; its length becomes 0. */
  public void freeSequence(int seqId) {
    NativeEngine.seqFree(handle(), seqId);
  }

  /**
   * Gives the empty sequence {@code dstSeqId} the positions cached for {@code srcSeqId} without
   * recomputing them: the full KV blocks are shared, the partial last one is copied.
   *
   * @throws KvCacheFullException when the copy needs a free block and none is left; nothing changed
   * @throws InvalidEngineArgumentException when dst is not empty or equals src
   */
  public void forkSequence(int srcSeqId, int dstSeqId) {
    NativeEngine.seqFork(handle(), srcSeqId, dstSeqId);
  }

  /**
   * Gives the empty sequence {@code seqId} the longest run of cached full KV blocks that starts
   * {@code tokens[0 .. length)} for {@code adapter} (null: the base model) and returns how many
   * positions it now holds: a multiple of the block size, at most {@code length - 1}, so at least
   * the last token is left to compute. The caller decodes on from that position.
   *
   * @throws InvalidEngineArgumentException when the sequence is not empty or a token is out of
   *     range
   */
  public int adoptPrefix(int seqId, int[] tokens, int length, Adapter adapter) {
    return NativeEngine.seqAdoptPrefix(
        handle(), seqId, tokens, length, adapter == null ? 0 : adapter.rawHandle());
  }

  /** What {@link #adoptPrefix} would reuse now, changing nothing. */
  public PrefixMatch lookupPrefix(int[] tokens, int length, Adapter adapter) {
    long v =
        NativeEngine.prefixLookup(
            handle(), tokens, length, adapter == null ? 0 : adapter.rawHandle());
    return new PrefixMatch((int) (v >>> 32), (int) v);
  }

  /** Positions cached for a sequence. */
  public int sequenceLength(int seqId) {
    return NativeEngine.seqLength(handle(), seqId);
  }

  public KvStats kvStats() {
    long[] v = new long[12];
    NativeEngine.kvStats(handle(), v);
    return new KvStats(
        (int) v[0],
        (int) v[1],
        (int) v[2],
        v[3],
        (int) v[4],
        (int) v[5],
        v[6],
        v[7],
        v[8],
        v[9],
        v[10],
        v[11]);
  }

  /**
   * Frees reclaimable cached KV blocks, least recently released first: at most {@code maxBlocks},
   * none released after the stamp {@code notAfter} (a {@link KvStats#lruClock()} value). They leave
   * the prefix cache; {@link KvStats#freeBlocks()} stays the same.
   *
   * @return the blocks freed
   */
  public int reclaimCachedBlocks(long notAfter, int maxBlocks) {
    return NativeEngine.kvReclaim(handle(), notAfter, maxBlocks);
  }

  @Override
  void free(long handle) {
    NativeEngine.contextFree(handle);
  }
}
