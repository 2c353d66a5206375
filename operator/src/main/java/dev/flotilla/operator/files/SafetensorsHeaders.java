package dev.flotilla.operator.files;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads only the JSON header of a safetensors file (8-byte little-endian length, then JSON): tensor
 * names, dtypes and shapes, without touching the weights.
 */
public final class SafetensorsHeaders {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long MAX_HEADER = 100L << 20;

  /** One tensor's entry. */
  public record Tensor(String name, String dtype, List<Long> shape) {
    public long elements() {
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      return n;
    }
  }

  private SafetensorsHeaders() {}

  /** The tensors of {@code file} by name, in header order. */
  public static Map<String, Tensor> read(Path file) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(channel, prefix, file);
      long length = prefix.flip().getLong();
      if (length <= 0 || length > MAX_HEADER || 8 + length > channel.size()) {
        throw new IOException(
            file.getFileName()
                + ": header length "
                + length
                + " does not fit a file of "
                + channel.size()
                + " bytes");
      }
      ByteBuffer header = ByteBuffer.allocate((int) length);
      readFully(channel, header, file);
      JsonNode root = JSON.readTree(header.array());
      Map<String, Tensor> tensors = new LinkedHashMap<>();
      Iterator<Map.Entry<String, JsonNode>> fields = root.fields();
      while (fields.hasNext()) {
        Map.Entry<String, JsonNode> field = fields.next();
        if (field.getKey().equals("__metadata__")) {
          continue;
        }
        List<Long> shape = new ArrayList<>();
        field.getValue().path("shape").forEach(d -> shape.add(d.asLong()));
        tensors.put(
            field.getKey(),
            new Tensor(field.getKey(), field.getValue().path("dtype").asText(), shape));
      }
      return tensors;
    }
  }

  /** Bytes per element of a safetensors dtype name. */
  public static int elementBytes(String dtype) {
    return switch (dtype) {
      case "F64", "I64", "U64" -> 8;
      case "F32", "I32", "U32" -> 4;
      case "F16", "BF16", "I16", "U16" -> 2;
      default -> 1;
    };
  }

  private static void readFully(FileChannel channel, ByteBuffer buffer, Path file)
      throws IOException {
    while (buffer.hasRemaining()) {
      if (channel.read(buffer) < 0) {
        throw new IOException(file.getFileName() + " ends inside its header");
      }
    }
  }
}
