package dev.flotilla.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a safetensors file for tests. Opening validates the header as strictly as the Rust {@code
 * safetensors} crate (known dtypes, sizes that match shapes, tensors contiguous and covering the
 * data section exactly), so a file this reader accepts is one every real loader accepts.
 */
public final class SafetensorsReader implements AutoCloseable {

  private final Path file;
  private final FileChannel channel;
  private final long dataStart;
  private final Map<String, TensorInfo> tensors;
  private final Map<String, String> metadata;

  private SafetensorsReader(
      Path file,
      FileChannel channel,
      long dataStart,
      Map<String, TensorInfo> tensors,
      Map<String, String> metadata) {
    this.file = file;
    this.channel = channel;
    this.dataStart = dataStart;
    this.tensors = tensors;
    this.metadata = metadata;
  }

  public static SafetensorsReader open(Path file) throws IOException {
    ObjectNode header = SafetensorsHeader.read(file);
    FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
    try {
      long dataStart = 8 + SafetensorsHeader.declaredLength(channel);
      Map<String, String> metadata = new LinkedHashMap<>();
      Map<String, TensorInfo> tensors = new LinkedHashMap<>();
      Iterator<Map.Entry<String, JsonNode>> fields = header.fields();
      while (fields.hasNext()) {
        Map.Entry<String, JsonNode> field = fields.next();
        if (field.getKey().equals(SafetensorsHeader.METADATA_KEY)) {
          field
              .getValue()
              .fields()
              .forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
        } else {
          tensors.put(field.getKey(), parseEntry(file, field.getKey(), field.getValue()));
        }
      }
      checkLayout(file, tensors.values(), channel.size() - dataStart);
      return new SafetensorsReader(
          file,
          channel,
          dataStart,
          Collections.unmodifiableMap(tensors),
          Collections.unmodifiableMap(metadata));
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  /** Every tensor, in header order. */
  public Map<String, TensorInfo> tensors() {
    return tensors;
  }

  public Map<String, String> metadata() {
    return metadata;
  }

  public TensorInfo info(String name) {
    TensorInfo info = tensors.get(name);
    if (info == null) {
      throw new IllegalArgumentException("no tensor " + name + " in " + file);
    }
    return info;
  }

  /** Offset of the first data byte in the file: 8 plus the declared header length. */
  public long dataStart() {
    return dataStart;
  }

  /** The stored little-endian bytes of one tensor. */
  public byte[] readBytes(String name) throws IOException {
    TensorInfo info = info(name);
    ByteBuffer bytes = ByteBuffer.allocate(Math.toIntExact(info.dataEnd() - info.dataBegin()));
    SafetensorsHeader.readFully(channel, bytes, dataStart + info.dataBegin());
    return bytes.array();
  }

  /** One tensor widened to double, row-major; exact for every supported dtype. */
  public double[] readDoubles(String name) throws IOException {
    TensorInfo info = info(name);
    ByteBuffer bytes = ByteBuffer.wrap(readBytes(name)).order(ByteOrder.LITTLE_ENDIAN);
    double[] values = new double[Math.toIntExact(info.spec().elementCount())];
    for (int i = 0; i < values.length; i++) {
      values[i] =
          switch (info.dtype()) {
            case F64 -> bytes.getDouble();
            case F32 -> bytes.getFloat();
            case F16 -> HalfFloats.halfToFloat(bytes.getShort());
            case BF16 -> HalfFloats.bfloat16ToFloat(bytes.getShort());
          };
    }
    return values;
  }

  /** One tensor as float; F64 values are rounded. */
  public float[] readFloats(String name) throws IOException {
    double[] wide = readDoubles(name);
    float[] values = new float[wide.length];
    for (int i = 0; i < wide.length; i++) {
      values[i] = (float) wide[i];
    }
    return values;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  private static TensorInfo parseEntry(Path file, String name, JsonNode entry)
      throws SafetensorsFormatException {
    String where = file + ": tensor " + name;
    JsonNode dtypeNode = entry.get("dtype");
    JsonNode shapeNode = entry.get("shape");
    JsonNode offsets = entry.get("data_offsets");
    if (dtypeNode == null
        || shapeNode == null
        || !shapeNode.isArray()
        || offsets == null
        || !offsets.isArray()
        || offsets.size() != 2) {
      throw new SafetensorsFormatException(where + " needs dtype, shape and two data_offsets");
    }
    Dtype dtype;
    try {
      dtype = Dtype.fromSafetensorsName(dtypeNode.asText());
    } catch (IllegalArgumentException e) {
      throw new SafetensorsFormatException(where + ": " + e.getMessage());
    }
    List<Long> shape = new ArrayList<>();
    for (JsonNode dim : shapeNode) {
      if (!dim.canConvertToLong() || dim.asLong() < 0) {
        throw new SafetensorsFormatException(where + " has an invalid dimension " + dim);
      }
      shape.add(dim.asLong());
    }
    TensorSpec spec = new TensorSpec(name, dtype, shape);
    long begin = offsets.get(0).asLong();
    long end = offsets.get(1).asLong();
    long expected;
    try {
      expected = spec.byteSize();
    } catch (ArithmeticException e) {
      throw new SafetensorsFormatException(where + " shape " + shape + " overflows");
    }
    if (begin < 0 || end < begin || end - begin != expected) {
      throw new SafetensorsFormatException(
          where
              + " spans ["
              + begin
              + ", "
              + end
              + ") but "
              + dtype
              + " "
              + shape
              + " needs "
              + expected
              + " bytes");
    }
    return new TensorInfo(spec, begin, end);
  }

  private static void checkLayout(Path file, Iterable<TensorInfo> infos, long dataBytes)
      throws SafetensorsFormatException {
    List<TensorInfo> byOffset = new ArrayList<>();
    infos.forEach(byOffset::add);
    byOffset.sort(
        Comparator.comparingLong(TensorInfo::dataBegin).thenComparingLong(TensorInfo::dataEnd));
    long expectedBegin = 0;
    for (TensorInfo info : byOffset) {
      if (info.dataBegin() != expectedBegin) {
        throw new SafetensorsFormatException(
            file
                + ": tensor "
                + info.name()
                + " starts at "
                + info.dataBegin()
                + ", expected "
                + expectedBegin
                + " (gap or overlap)");
      }
      expectedBegin = info.dataEnd();
    }
    if (expectedBegin > dataBytes) {
      throw new SafetensorsFormatException(
          file
              + ": data offsets end at "
              + expectedBegin
              + " but only "
              + dataBytes
              + " data bytes follow the header");
    }
    if (expectedBegin != dataBytes) {
      throw new SafetensorsFormatException(
          file + ": " + (dataBytes - expectedBegin) + " trailing bytes after the last tensor");
    }
  }
}
