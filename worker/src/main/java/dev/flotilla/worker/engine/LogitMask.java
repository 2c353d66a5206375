package dev.flotilla.worker.engine;

import java.nio.ByteBuffer;

/** Native grammar masking of a logits row before sampling (structured output). */
public final class LogitMask {
  private LogitMask() {}

  /**
   * Sets the logits of row {@code row} of {@code logits} (float32 [rows, vocab]) to -infinity for
   * every token whose bit is clear in {@code allowedBits} (bit {@code i % 32} of word {@code i /
   * 32}), so sampling picks only allowed tokens.
   *
   * @throws EngineException when the mask allows no token (the row is unchanged)
   */
  public static void apply(ByteBuffer logits, int row, int vocab, int[] allowedBits) {
    NativeEngine.ensureAvailable();
    NativeEngine.maskLogits(logits, (long) row * vocab, vocab, allowedBits);
  }
}
