package dev.flotilla.testkit;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;

/**
 * Streams tensors into a safetensors file. The header is written first from the declared specs, so
 * values can then be appended in declaration order in chunks of any size, never holding a whole
 * model in memory. Values arrive as float or double and are converted to each tensor's dtype on the
 * way out.
 *
 * <pre>{@code
 * try (var out = SafetensorsWriter.create(file, List.of(TensorSpec.of("w", Dtype.BF16, 2, 3)))) {
 *     out.write(new float[] {1, 2, 3, 4, 5, 6});
 * }
 * }</pre>
 */
public final class SafetensorsWriter implements AutoCloseable {

  /** What PyTorch's {@code save_file} records, and what loaders such as transformers expect. */
  public static final Map<String, String> PYTORCH_METADATA = Map.of("format", "pt");

  private static final int BUFFER_BYTES = 1 << 20;

  private final Path file;
  private final FileChannel channel;
  private final List<TensorSpec> tensors;
  private final ByteBuffer buffer =
      ByteBuffer.allocate(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
  private int current;
  private long writtenInCurrent;

  private SafetensorsWriter(Path file, FileChannel channel, List<TensorSpec> tensors) {
    this.file = file;
    this.channel = channel;
    this.tensors = tensors;
    skipEmptyTensors();
  }

  public static SafetensorsWriter create(Path file, List<TensorSpec> tensors) throws IOException {
    return create(file, tensors, PYTORCH_METADATA);
  }

  public static SafetensorsWriter create(
      Path file, List<TensorSpec> tensors, Map<String, String> metadata) throws IOException {
    List<TensorSpec> ordered = List.copyOf(tensors);
    byte[] header = SafetensorsHeader.encode(SafetensorsHeader.describe(ordered, metadata));
    FileChannel channel =
        FileChannel.open(
            file,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING);
    try {
      ByteBuffer headerBuffer = ByteBuffer.wrap(header);
      while (headerBuffer.hasRemaining()) {
        channel.write(headerBuffer);
      }
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
    return new SafetensorsWriter(file, channel, ordered);
  }

  /** Writes a whole file from in-memory values, one array per spec. */
  public static void writeAll(Path file, List<TensorSpec> tensors, List<double[]> values)
      throws IOException {
    if (tensors.size() != values.size()) {
      throw new IllegalArgumentException(
          tensors.size() + " specs but " + values.size() + " value arrays");
    }
    try (SafetensorsWriter out = create(file, tensors)) {
      for (int i = 0; i < tensors.size(); i++) {
        out.writeTensor(tensors.get(i).name(), values.get(i));
      }
    }
  }

  /** The tensor the next value belongs to, or null when every tensor is complete. */
  public TensorSpec currentTensor() {
    return current < tensors.size() ? tensors.get(current) : null;
  }

  /** Appends values; a chunk may end mid-tensor or run on into the next one. */
  public void write(float[] values, int offset, int length) throws IOException {
    for (int i = offset; i < offset + length; i++) {
      put(values[i]);
    }
  }

  public void write(float[] values) throws IOException {
    write(values, 0, values.length);
  }

  public void write(double[] values, int offset, int length) throws IOException {
    for (int i = offset; i < offset + length; i++) {
      put(values[i]);
    }
  }

  public void write(double[] values) throws IOException {
    write(values, 0, values.length);
  }

  /** Writes exactly one whole tensor, checking it is the one due next. */
  public void writeTensor(String name, double[] values) throws IOException {
    TensorSpec due = currentTensor();
    if (due == null || !due.name().equals(name) || writtenInCurrent != 0) {
      throw new IllegalStateException(
          "tensor " + name + " is not due next; due: " + (due == null ? "nothing" : due.name()));
    }
    if (values.length != due.elementCount()) {
      throw new IllegalArgumentException(
          name + " has " + due.elementCount() + " elements, got " + values.length);
    }
    write(values);
  }

  private void put(double value) throws IOException {
    TensorSpec tensor = currentTensor();
    if (tensor == null) {
      throw new IllegalStateException("more values than the tensors declared in " + file);
    }
    if (buffer.remaining() < 8) {
      flush();
    }
    switch (tensor.dtype()) {
      case F64 -> buffer.putDouble(value);
      case F32 -> buffer.putFloat((float) value);
      case F16 -> buffer.putShort(HalfFloats.floatToHalf((float) value));
      case BF16 -> buffer.putShort(HalfFloats.floatToBfloat16((float) value));
    }
    writtenInCurrent++;
    if (writtenInCurrent == tensor.elementCount()) {
      current++;
      writtenInCurrent = 0;
      skipEmptyTensors();
    }
  }

  private void skipEmptyTensors() {
    while (current < tensors.size() && tensors.get(current).elementCount() == 0) {
      current++;
    }
  }

  private void flush() throws IOException {
    buffer.flip();
    while (buffer.hasRemaining()) {
      channel.write(buffer);
    }
    buffer.clear();
  }

  /**
   * Flushes and closes; fails if a declared tensor was left incomplete, since the file would be
   * invalid.
   */
  @Override
  public void close() throws IOException {
    try {
      flush();
    } finally {
      channel.close();
    }
    TensorSpec missing = currentTensor();
    if (missing != null) {
      throw new IllegalStateException(
          file
              + ": tensor "
              + missing.name()
              + " incomplete ("
              + writtenInCurrent
              + " of "
              + missing.elementCount()
              + " values written)");
    }
  }
}
