package dev.flotilla.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HalfFloatsTest {

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
    "1.0, 3c00",
    "-2.0, c000",
    "0.0, 0000",
    "-0.0, 8000",
    "65504.0, 7bff", // largest finite half
    "65519.99, 7bff", // just below the rounding boundary to infinity
    "65520.0, 7c00", // halfway to 65536: ties to even, which is infinity
    "1e6, 7c00",
    "0.333333333, 3555",
    "0.1, 2e66",
    "6.103515625E-5, 0400", // 2^-14, smallest normal
    "6.097555160522461E-5, 03ff", // 1023 * 2^-24, largest subnormal
    "5.960464477539063E-8, 0001", // 2^-24, smallest subnormal
    "2.9802322387695312E-8, 0000", // 2^-25: halfway between 0 and 2^-24, ties to even zero
    "4.470348358154297E-8, 0001", // 0.75 * 2^-24 rounds up
    "8.940696716308594E-8, 0002", // 1.5 * 2^-24: halfway, ties to even 2
    "1.00048828125, 3c00", // 1 + 2^-11: halfway between 0x3c00 and 0x3c01, ties to even
    "1.00146484375, 3c02", // 1 + 3*2^-11: halfway between 0x3c01 and 0x3c02, ties to even
    "1.0005, 3c01", // above the halfway point rounds up
  })
  void floatToHalfMatchesKnownBitPatterns(float value, String hex) {
    assertThat(HalfFloats.floatToHalf(value) & 0xffff).isEqualTo(Integer.parseInt(hex, 16));
  }

  @Test
  void infinitiesAndNanConvertBothWays() {
    assertThat(HalfFloats.floatToHalf(Float.POSITIVE_INFINITY) & 0xffff).isEqualTo(0x7c00);
    assertThat(HalfFloats.floatToHalf(Float.NEGATIVE_INFINITY) & 0xffff).isEqualTo(0xfc00);
    int nan = HalfFloats.floatToHalf(Float.NaN) & 0xffff;
    assertThat(nan & 0x7c00).isEqualTo(0x7c00);
    assertThat(nan & 0x03ff).isNotZero();
    // A NaN whose payload sits only in the low float bits must not collapse to infinity.
    assertThat(HalfFloats.floatToHalf(Float.intBitsToFloat(0x7f800001)) & 0x03ff).isNotZero();
    assertThat(HalfFloats.halfToFloat((short) 0x7c00)).isEqualTo(Float.POSITIVE_INFINITY);
    assertThat(HalfFloats.halfToFloat((short) 0xfc00)).isEqualTo(Float.NEGATIVE_INFINITY);
    assertThat(HalfFloats.halfToFloat((short) 0x7e00)).isNaN();
  }

  @Test
  void halfToFloatDecodesSubnormalsAndNormals() {
    assertThat(HalfFloats.halfToFloat((short) 0x0001)).isEqualTo(0x1p-24f);
    assertThat(HalfFloats.halfToFloat((short) 0x03ff)).isEqualTo(1023 * 0x1p-24f);
    assertThat(HalfFloats.halfToFloat((short) 0x8001)).isEqualTo(-0x1p-24f);
    assertThat(HalfFloats.halfToFloat((short) 0x0400)).isEqualTo(0x1p-14f);
    assertThat(HalfFloats.halfToFloat((short) 0x3555)).isEqualTo(0.333251953125f);
    assertThat(HalfFloats.halfToFloat((short) 0xc000)).isEqualTo(-2.0f);
  }

  @Test
  void everyNonNanHalfSurvivesARoundTripThroughFloat() {
    for (int bits = 0; bits <= 0xffff; bits++) {
      boolean nan = (bits & 0x7c00) == 0x7c00 && (bits & 0x03ff) != 0;
      if (!nan) {
        float widened = HalfFloats.halfToFloat((short) bits);
        assertThat(HalfFloats.floatToHalf(widened) & 0xffff)
            .as("half 0x%04x", bits)
            .isEqualTo(bits);
      }
    }
  }

  @Test
  void floatToHalfPicksTheNearestHalfForRandomFloats() {
    SeededGaussian random = new SeededGaussian(11);
    for (int i = 0; i < 20_000; i++) {
      float value = (float) (random.nextGaussian() * Math.pow(2, random.nextUnit() * 40 - 28));
      int half = HalfFloats.floatToHalf(value) & 0xffff;
      double error = Math.abs(HalfFloats.halfToFloat((short) half) - (double) value);
      // Neither neighbour of the chosen half may be strictly closer.
      for (int neighbour : new int[] {half - 1, half + 1}) {
        if ((neighbour & 0x7c00) != 0x7c00 && (neighbour & 0x8000) == (half & 0x8000)) {
          double neighbourError =
              Math.abs(HalfFloats.halfToFloat((short) neighbour) - (double) value);
          assertThat(error).as("value %s", value).isLessThanOrEqualTo(neighbourError);
        }
      }
    }
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
    "1.0, 3f80",
    "-2.0, c000",
    "3.14159265, 4049", // 0x40490fdb: low half below 0x8000 rounds down
    "1.00390625, 3f80", // 0x3f808000: exactly halfway, ties to even (down)
    "1.01171875, 3f82", // 0x3f818000: exactly halfway, ties to even (up)
    "3.4028235e38, 7f80", // float max rounds up to infinity
  })
  void floatToBfloat16RoundsToNearestEven(float value, String hex) {
    assertThat(HalfFloats.floatToBfloat16(value) & 0xffff).isEqualTo(Integer.parseInt(hex, 16));
  }

  @Test
  void bfloat16KeepsNanAndWidensExactly() {
    assertThat(HalfFloats.bfloat16ToFloat(HalfFloats.floatToBfloat16(Float.NaN))).isNaN();
    assertThat(HalfFloats.bfloat16ToFloat((short) 0x3f80)).isEqualTo(1.0f);
    assertThat(HalfFloats.bfloat16ToFloat((short) 0xc049)).isEqualTo(-3.140625f);
  }
}
