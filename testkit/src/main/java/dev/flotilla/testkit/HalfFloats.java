package dev.flotilla.testkit;

/**
 * IEEE 754 binary16 and bfloat16 conversions. Java 17 has no {@code Float.floatToFloat16}, and the
 * engine's loaders are checked against these bits, so rounding is round-to-nearest-even exactly as
 * PyTorch's {@code tensor.half()} / {@code tensor.bfloat16()} do it.
 */
public final class HalfFloats {

  private HalfFloats() {}

  /**
   * Rounds a float to the nearest binary16 (ties to even); overflow becomes infinity, NaN stays
   * NaN.
   */
  public static short floatToHalf(float value) {
    int bits = Float.floatToRawIntBits(value);
    int sign = (bits >>> 16) & 0x8000;
    int exponent = (bits >>> 23) & 0xff;
    int mantissa = bits & 0x7f_ffff;

    if (exponent == 0xff) {
      // Keep the quiet bit so a NaN whose payload lives only in the dropped low bits stays NaN.
      return (short) (mantissa == 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13));
    }
    int halfExponent = exponent - 127 + 15;
    if (halfExponent >= 0x1f) {
      return (short) (sign | 0x7c00);
    }
    if (halfExponent <= 0) {
      // Subnormal half: value = m * 2^-24 with the float's implicit leading one made explicit.
      int shift = 14 - halfExponent;
      if (shift > 24) {
        return (short) sign; // below half of the smallest subnormal: rounds to signed zero
      }
      int full = mantissa | 0x80_0000;
      return (short) (sign | roundShiftRightEven(full, shift));
    }
    // A carry out of the mantissa correctly bumps the exponent (and 65520 and up becomes infinity).
    return (short) (sign | ((halfExponent << 10) + roundShiftRightEven(mantissa, 13)));
  }

  /** Exact widening of a binary16 bit pattern to float. */
  public static float halfToFloat(short half) {
    int h = half & 0xffff;
    int sign = (h & 0x8000) << 16;
    int exponent = (h >>> 10) & 0x1f;
    int mantissa = h & 0x3ff;
    if (exponent == 0) {
      float magnitude = mantissa * 0x1p-24f; // exact: at most 10 significant bits
      return sign == 0 ? magnitude : -magnitude;
    }
    if (exponent == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f80_0000 | (mantissa << 13));
    }
    return Float.intBitsToFloat(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
  }

  /** Rounds a float to the nearest bfloat16 (ties to even), i.e. the top 16 bits after rounding. */
  public static short floatToBfloat16(float value) {
    int bits = Float.floatToRawIntBits(value);
    if (Float.isNaN(value)) {
      return (short) ((bits >>> 16) | 0x40);
    }
    int roundingBias = 0x7fff + ((bits >>> 16) & 1);
    return (short) ((bits + roundingBias) >>> 16);
  }

  public static float bfloat16ToFloat(short bf16) {
    return Float.intBitsToFloat((bf16 & 0xffff) << 16);
  }

  /**
   * The value a float takes after a round trip through {@code dtype}; doubles are returned as is.
   */
  public static double roundTo(Dtype dtype, double value) {
    return switch (dtype) {
      case F64 -> value;
      case F32 -> (float) value;
      case F16 -> halfToFloat(floatToHalf((float) value));
      case BF16 -> bfloat16ToFloat(floatToBfloat16((float) value));
    };
  }

  private static int roundShiftRightEven(int value, int shift) {
    int kept = value >>> shift;
    int remainder = value & ((1 << shift) - 1);
    int halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder == halfway && (kept & 1) == 1)) {
      kept++;
    }
    return kept;
  }
}
