package dev.flotilla.testkit;

import java.util.Arrays;
import java.util.List;

/**
 * A tensor's name, element type and shape: everything a safetensors header says except where it
 * lies.
 */
public record TensorSpec(String name, Dtype dtype, List<Long> shape) {

  public TensorSpec {
    shape = List.copyOf(shape);
    if (shape.stream().anyMatch(d -> d < 0)) {
      throw new IllegalArgumentException("negative dimension in " + name + " " + shape);
    }
  }

  public static TensorSpec of(String name, Dtype dtype, long... dims) {
    return new TensorSpec(name, dtype, Arrays.stream(dims).boxed().toList());
  }

  public long elementCount() {
    return shape.stream().reduce(1L, Math::multiplyExact);
  }

  public long byteSize() {
    return Math.multiplyExact(elementCount(), (long) dtype.bytes());
  }

  public TensorSpec withDtype(Dtype other) {
    return new TensorSpec(name, other, shape);
  }
}
