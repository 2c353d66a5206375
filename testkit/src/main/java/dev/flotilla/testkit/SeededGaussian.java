package dev.flotilla.testkit;

import java.nio.charset.StandardCharsets;

/**
 * Normal samples from SplitMix64 and Box–Muller, written out so generated weights are bit-identical
 * on every JDK ({@code Random.nextGaussian} and {@code RandomGenerator} leave their algorithms
 * open). Each tensor draws from its own stream keyed by (seed, tensor name), so its values do not
 * depend on the order tensors are written in or on how a model is sharded.
 */
final class SeededGaussian {

  private long state;
  private double spare = Double.NaN;

  SeededGaussian(long seed) {
    this.state = seed;
  }

  static SeededGaussian forTensor(long seed, String tensorName) {
    return new SeededGaussian(mix(seed ^ mix(fnv1a(tensorName))));
  }

  double nextGaussian() {
    if (!Double.isNaN(spare)) {
      double value = spare;
      spare = Double.NaN;
      return value;
    }
    double u1 = 1.0 - nextUnit(); // (0, 1]: log stays finite
    double u2 = nextUnit();
    double radius = Math.sqrt(-2.0 * Math.log(u1));
    spare = radius * Math.sin(2 * Math.PI * u2);
    return radius * Math.cos(2 * Math.PI * u2);
  }

  /** Uniform in [0, 1) with 53 random bits. */
  double nextUnit() {
    return (nextLong() >>> 11) * 0x1.0p-53;
  }

  long nextLong() {
    state += 0x9E3779B97F4A7C15L;
    return mix(state);
  }

  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  private static long fnv1a(String text) {
    long hash = 0xcbf29ce484222325L;
    for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
      hash ^= b & 0xff;
      hash *= 0x100000001b3L;
    }
    return hash;
  }
}
