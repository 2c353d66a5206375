package dev.flotilla.worker.engine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The rows of one engine step in direct buffers the native side reads in place. A row is (token,
 * sequence id, position, adapter or null, want logits, want hidden state). The rows of a sequence
 * are consecutive with consecutive positions (a prefill chunk) or a single decode row; a batch
 * mixes both across sequences and adapters. Reuse one batch per step with {@link #clear()}.
 */
public final class Batch {
  private final int capacity;
  private final ByteBuffer tokens; // int32 [capacity]
  private final ByteBuffer seqIds; // int32 [capacity]
  private final ByteBuffer positions; // int32 [capacity]
  private final ByteBuffer adapters; // int64 handles [capacity]
  private final ByteBuffer wantLogits; // int8 [capacity]
  private final ByteBuffer wantHidden; // int8 [capacity]
  private int size;
  private int logitRows;
  private int hiddenRows;

  public Batch(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be >= 1: " + capacity);
    }
    this.capacity = capacity;
    this.tokens = direct(capacity * 4);
    this.seqIds = direct(capacity * 4);
    this.positions = direct(capacity * 4);
    this.adapters = direct(capacity * 8);
    this.wantLogits = direct(capacity);
    this.wantHidden = direct(capacity);
  }

  private static ByteBuffer direct(int bytes) {
    return ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
  }

  /** Appends a row; the adapter may be null (base model). */
  public Batch add(int token, int seqId, int position, Adapter adapter, boolean wantLogits) {
    return add(token, seqId, position, adapter, wantLogits, false);
  }

  /**
   * Appends a row that may also (or instead) want its final hidden state: the vector after the
   * model's final norm, which embeddings pool.
   */
  public Batch add(
      int token, int seqId, int position, Adapter adapter, boolean wantLogits, boolean wantHidden) {
    if (size == capacity) {
      throw new IllegalStateException("batch is full (" + capacity + " rows)");
    }
    tokens.putInt(size * 4, token);
    seqIds.putInt(size * 4, seqId);
    positions.putInt(size * 4, position);
    adapters.putLong(size * 8, adapter == null ? 0 : adapter.rawHandle());
    this.wantLogits.put(size, (byte) (wantLogits ? 1 : 0));
    this.wantHidden.put(size, (byte) (wantHidden ? 1 : 0));
    if (wantLogits) {
      logitRows++;
    }
    if (wantHidden) {
      hiddenRows++;
    }
    size++;
    return this;
  }

  public Batch clear() {
    size = 0;
    logitRows = 0;
    hiddenRows = 0;
    return this;
  }

  public int size() {
    return size;
  }

  public int capacity() {
    return capacity;
  }

  /** Rows whose logits the step writes, in row order. */
  public int logitRows() {
    return logitRows;
  }

  /** Rows whose final hidden state the step writes, in row order. */
  public int hiddenRows() {
    return hiddenRows;
  }

  ByteBuffer tokens() {
    return tokens;
  }

  ByteBuffer seqIds() {
    return seqIds;
  }

  ByteBuffer positions() {
    return positions;
  }

  ByteBuffer adapters() {
    return adapters;
  }

  ByteBuffer wantLogits() {
    return wantLogits;
  }

  ByteBuffer wantHidden() {
    return wantHidden;
  }
}
