package dev.flotilla.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SafetensorsRoundTripTest {

  @TempDir Path dir;

  @ParameterizedTest
  @EnumSource(Dtype.class)
  void valuesSurviveAWriteAndReadRoundedOnlyByTheDtype(Dtype dtype) throws IOException {
    double[] values = randomValues(7, 3 * 5);
    Path file = dir.resolve("t.safetensors");
    SafetensorsWriter.writeAll(file, List.of(TensorSpec.of("w", dtype, 3, 5)), List.of(values));

    try (SafetensorsReader reader = SafetensorsReader.open(file)) {
      TensorInfo info = reader.info("w");
      assertThat(info.dtype()).isEqualTo(dtype);
      assertThat(info.dims()).containsExactly(3, 5);
      double[] read = reader.readDoubles("w");
      for (int i = 0; i < values.length; i++) {
        // Writers take float input for F32/F16/BF16, so the expected value is rounded from float.
        double expected =
            dtype == Dtype.F64 ? values[i] : HalfFloats.roundTo(dtype, (float) values[i]);
        assertThat(read[i]).isEqualTo(expected);
      }
    }
  }

  @Test
  void halfPrecisionValuesStayWithinHalfAnUlp() throws IOException {
    double[] values = randomValues(3, 1000);
    Path file = dir.resolve("h.safetensors");
    SafetensorsWriter.writeAll(
        file,
        List.of(TensorSpec.of("f16", Dtype.F16, 1000), TensorSpec.of("bf16", Dtype.BF16, 1000)),
        List.of(values, values));
    try (SafetensorsReader reader = SafetensorsReader.open(file)) {
      double[] f16 = reader.readDoubles("f16");
      double[] bf16 = reader.readDoubles("bf16");
      for (int i = 0; i < values.length; i++) {
        // 11 and 8 significant bits: relative rounding error at most 2^-11 and 2^-8.
        assertThat(Math.abs(f16[i] - values[i]))
            .isLessThanOrEqualTo(Math.abs(values[i]) * 0x1p-11 + 1e-12);
        assertThat(Math.abs(bf16[i] - values[i])).isLessThanOrEqualTo(Math.abs(values[i]) * 0x1p-8);
      }
    }
  }

  @Test
  void headerIsSpacePaddedToEightBytesWithPytorchMetadataAndContiguousOffsets() throws IOException {
    Path file = dir.resolve("a.safetensors");
    SafetensorsWriter.writeAll(
        file,
        List.of(TensorSpec.of("a", Dtype.F16, 3), TensorSpec.of("b", Dtype.F32, 2, 2)),
        List.of(new double[] {1, 2, 3}, new double[] {4, 5, 6, 7}));
    byte[] bytes = Files.readAllBytes(file);
    long headerLength = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    assertThat(headerLength % 8).isZero();
    assertThat(bytes.length).isEqualTo(8 + headerLength + 3 * 2 + 4 * 4);
    String header = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
    String json = header.stripTrailing();
    assertThat(json).startsWith("{").endsWith("}");
    assertThat(header.substring(json.length())).matches(" *");
    try (SafetensorsReader reader = SafetensorsReader.open(file)) {
      assertThat(reader.metadata()).containsEntry("format", "pt");
      assertThat(reader.info("a").dataBegin()).isZero();
      assertThat(reader.info("a").dataEnd()).isEqualTo(6);
      assertThat(reader.info("b").dataBegin()).isEqualTo(6);
      assertThat(reader.info("b").dataEnd()).isEqualTo(22);
      assertThat(reader.dataStart()).isEqualTo(8 + headerLength);
    }
  }

  @Test
  void streamedChunksMayCrossTensorBoundaries() throws IOException {
    Path file = dir.resolve("s.safetensors");
    try (SafetensorsWriter out =
        SafetensorsWriter.create(
            file,
            List.of(
                TensorSpec.of("x", Dtype.F32, 3),
                TensorSpec.of("empty", Dtype.F32, 0),
                TensorSpec.of("y", Dtype.BF16, 2)))) {
      out.write(new float[] {1, 2});
      out.write(new float[] {3, 4, 5});
      assertThat(out.currentTensor()).isNull();
    }
    try (SafetensorsReader reader = SafetensorsReader.open(file)) {
      assertThat(reader.readDoubles("x")).containsExactly(1, 2, 3);
      assertThat(reader.readDoubles("empty")).isEmpty();
      assertThat(reader.readDoubles("y")).containsExactly(4, 5);
    }
  }

  @Test
  void closingWithATensorIncompleteFails() {
    Path file = dir.resolve("i.safetensors");
    assertThatThrownBy(
            () -> {
              try (SafetensorsWriter out =
                  SafetensorsWriter.create(file, List.of(TensorSpec.of("x", Dtype.F32, 4)))) {
                out.write(new float[] {1, 2});
              }
            })
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("x incomplete");
  }

  @Test
  void writingMoreValuesThanDeclaredFails() {
    Path file = dir.resolve("m.safetensors");
    assertThatThrownBy(
            () -> {
              try (SafetensorsWriter out =
                  SafetensorsWriter.create(file, List.of(TensorSpec.of("x", Dtype.F32, 1)))) {
                out.write(new float[] {1, 2});
              }
            })
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("more values");
  }

  @Test
  void readerRejectsEachCorruptVariantWithAClearMessage() throws IOException {
    Path good = dir.resolve("good.safetensors");
    SafetensorsWriter.writeAll(
        good,
        List.of(TensorSpec.of("a", Dtype.F32, 4, 2), TensorSpec.of("b", Dtype.F16, 3)),
        List.of(randomValues(1, 8), randomValues(2, 3)));

    assertThatThrownBy(
            () -> SafetensorsReader.open(CorruptFiles.truncatedHeader(good, dir.resolve("t"))))
        .isInstanceOf(SafetensorsFormatException.class)
        .hasMessageContaining("past the end");
    assertThatThrownBy(
            () -> SafetensorsReader.open(CorruptFiles.headerLengthPastEof(good, dir.resolve("h"))))
        .isInstanceOf(SafetensorsFormatException.class)
        .hasMessageContaining("past the end");
    assertThatThrownBy(
            () -> SafetensorsReader.open(CorruptFiles.dataOffsetsPastEof(good, dir.resolve("d"))))
        .isInstanceOf(SafetensorsFormatException.class)
        .hasMessageContaining("data bytes follow the header");
    Files.write(dir.resolve("short"), new byte[] {1, 2, 3});
    assertThatThrownBy(() -> SafetensorsReader.open(dir.resolve("short")))
        .isInstanceOf(SafetensorsFormatException.class)
        .hasMessageContaining("no header length");
  }

  @Test
  void readerRejectsOffsetsThatDisagreeWithTheShape() throws IOException {
    Path file = dir.resolve("bad.safetensors");
    String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}";
    writeRaw(file, header, new byte[4]);
    assertThatThrownBy(() -> SafetensorsReader.open(file))
        .isInstanceOf(SafetensorsFormatException.class)
        .hasMessageContaining("needs 8 bytes");
  }

  @Test
  void readerRejectsUnknownDtypesAndGaps() throws IOException {
    Path unknown = dir.resolve("u.safetensors");
    writeRaw(
        unknown, "{\"w\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,1]}}", new byte[1]);
    assertThatThrownBy(() -> SafetensorsReader.open(unknown))
        .isInstanceOf(SafetensorsFormatException.class)
        .hasMessageContaining("Q4");

    Path gap = dir.resolve("g.safetensors");
    writeRaw(gap, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8]);
    assertThatThrownBy(() -> SafetensorsReader.open(gap))
        .isInstanceOf(SafetensorsFormatException.class)
        .hasMessageContaining("gap or overlap");
  }

  private static void writeRaw(Path file, String header, byte[] data) throws IOException {
    byte[] json = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer out =
        ByteBuffer.allocate(8 + json.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(json.length).put(json).put(data);
    Files.write(file, out.array());
  }

  private static double[] randomValues(long seed, int count) {
    SeededGaussian random = new SeededGaussian(seed);
    double[] values = new double[count];
    for (int i = 0; i < count; i++) {
      values[i] = random.nextGaussian() * 3;
    }
    return values;
  }
}
