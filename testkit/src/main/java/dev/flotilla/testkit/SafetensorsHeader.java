package dev.flotilla.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The safetensors framing: an 8-byte little-endian header length, a JSON header padded with spaces
 * so the data starts 8-byte aligned, then the raw little-endian data. Shared by the writer and by
 * {@link CorruptFiles}, which needs to write headers that lie.
 */
final class SafetensorsHeader {

  static final ObjectMapper JSON = new ObjectMapper();
  static final String METADATA_KEY = "__metadata__";

  /** The Rust reader's limit; a larger declared header is treated as corruption, not allocated. */
  static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

  private SafetensorsHeader() {}

  /** A header JSON for tensors laid out back to back in the given order. */
  static ObjectNode describe(List<TensorSpec> tensors, Map<String, String> metadata) {
    ObjectNode header = JSON.createObjectNode();
    if (!metadata.isEmpty()) {
      ObjectNode meta = header.putObject(METADATA_KEY);
      metadata.forEach(meta::put);
    }
    long offset = 0;
    for (TensorSpec tensor : tensors) {
      if (header.has(tensor.name())) {
        throw new IllegalArgumentException("duplicate tensor " + tensor.name());
      }
      ObjectNode entry = header.putObject(tensor.name());
      entry.put("dtype", tensor.dtype().safetensorsName());
      ArrayNode shape = entry.putArray("shape");
      tensor.shape().forEach(shape::add);
      long end = offset + tensor.byteSize();
      entry.putArray("data_offsets").add(offset).add(end);
      offset = end;
    }
    return header;
  }

  /**
   * Length prefix plus JSON, padded with spaces to a multiple of 8 bytes as the Rust writer does.
   */
  static byte[] encode(JsonNode header) {
    byte[] json;
    try {
      json = JSON.writeValueAsBytes(header);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    int padded = (json.length + 7) & ~7;
    ByteBuffer out = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(padded);
    out.put(json);
    byte[] spaces = new byte[padded - json.length];
    Arrays.fill(spaces, (byte) ' ');
    out.put(spaces);
    return out.array();
  }

  /** The declared header length, unchecked; a corrupt file may declare anything. */
  static long declaredLength(FileChannel channel) throws IOException {
    if (channel.size() < 8) {
      throw new SafetensorsFormatException(
          "file of " + channel.size() + " bytes has no header length");
    }
    ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    readFully(channel, prefix, 0);
    return prefix.getLong(0);
  }

  /** Reads the header JSON of a file whose header length is plausible. */
  static ObjectNode read(Path file) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      long length = declaredLength(channel);
      if (length < 0 || length > channel.size() - 8) {
        throw new SafetensorsFormatException(
            "header length "
                + Long.toUnsignedString(length)
                + " runs past the end of "
                + file
                + " ("
                + channel.size()
                + " bytes)");
      }
      if (length > MAX_HEADER_BYTES) {
        throw new SafetensorsFormatException(
            "header length " + length + " exceeds " + MAX_HEADER_BYTES);
      }
      ByteBuffer json = ByteBuffer.allocate((int) length);
      readFully(channel, json, 8);
      JsonNode node;
      try {
        node = JSON.readTree(new String(json.array(), StandardCharsets.UTF_8));
      } catch (IOException e) {
        throw new SafetensorsFormatException("header of " + file + " is not valid JSON", e);
      }
      if (!(node instanceof ObjectNode object)) {
        throw new SafetensorsFormatException("header of " + file + " is not a JSON object");
      }
      return object;
    }
  }

  static void readFully(FileChannel channel, ByteBuffer into, long position) throws IOException {
    long at = position;
    while (into.hasRemaining()) {
      int n = channel.read(into, at);
      if (n < 0) {
        throw new SafetensorsFormatException("unexpected end of file at byte " + at);
      }
      at += n;
    }
    into.flip();
  }
}
