package dev.flotilla.worker.engine;

/**
 * How a model's linear weights are held once loaded: {@link #AS_STORED} keeps the checkpoint's
 * dtype (F32, F16, BF16, or int8 for a compressed-tensors int8 checkpoint); {@link #INT8} quantizes
 * F32/F16/BF16 weights to int8 per output channel at load (CPU only).
 */
public enum WeightDtype {
  AS_STORED(-1),
  INT8(3);

  /** The engine's fl_dtype, or -1 for as stored. */
  final int code;

  WeightDtype(int code) {
    this.code = code;
  }
}
