package dev.flotilla.testkit;

/**
 * A tensor as a safetensors header declares it; offsets are relative to the start of the data
 * section.
 */
public record TensorInfo(TensorSpec spec, long dataBegin, long dataEnd) {

  public String name() {
    return spec.name();
  }

  public Dtype dtype() {
    return spec.dtype();
  }

  /** Shape as ints; every tensor of a generated model fits. */
  public int[] dims() {
    return spec.shape().stream().mapToInt(Math::toIntExact).toArray();
  }
}
