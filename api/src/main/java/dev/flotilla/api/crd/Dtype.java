package dev.flotilla.api.crd;

/** Element type the engine keeps weights in. */
public enum Dtype {
  F32,
  F16,
  BF16
}
