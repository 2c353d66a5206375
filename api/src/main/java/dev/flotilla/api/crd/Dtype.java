package dev.flotilla.api.crd;

/**
 * Element type the engine keeps weights in. {@link #INT8}: int8 per output channel with an F32
 * scale per row, quantized at load from F32/F16/BF16 files (a compressed-tensors int8 checkpoint is
 * held as int8 whatever this says); CPU workers only.
 */
public enum Dtype {
  F32,
  F16,
  BF16,
  INT8
}
