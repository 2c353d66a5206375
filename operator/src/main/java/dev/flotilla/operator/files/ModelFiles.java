package dev.flotilla.operator.files;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.api.crd.Dtype;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * What the operator can learn from a Hugging Face model directory it can read itself ({@code
 * file://} sources): the weights' size and the shapes in {@code config.json}.
 */
public final class ModelFiles {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The shapes of a Llama-family model that adapter validation and sizing need. */
  public record Shapes(
      int hiddenSize,
      int intermediateSize,
      int layers,
      int attentionHeads,
      int keyValueHeads,
      int headDim) {
    /**
     * [out, in] of a projection's weight, by its PEFT module name; {@code null} for an unknown
     * name.
     */
    public int[] projection(String module) {
      int q = attentionHeads * headDim;
      int kv = keyValueHeads * headDim;
      return switch (module) {
        case "q_proj" -> new int[] {q, hiddenSize};
        case "k_proj", "v_proj" -> new int[] {kv, hiddenSize};
        case "o_proj" -> new int[] {hiddenSize, q};
        case "gate_proj", "up_proj" -> new int[] {intermediateSize, hiddenSize};
        case "down_proj" -> new int[] {hiddenSize, intermediateSize};
        default -> null;
      };
    }

    public static final List<String> MODULES =
        List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");
  }

  private ModelFiles() {}

  /** The local directory of a {@code file://} source, if it is one and exists here. */
  public static Optional<Path> localDirectory(String source) {
    if (source == null || !source.startsWith("file://")) {
      return Optional.empty();
    }
    Path dir = Path.of(URI.create(source).getPath());
    return Files.isDirectory(dir) ? Optional.of(dir) : Optional.empty();
  }

  /**
   * Bytes the weights take held in {@code dtype} (the files' own dtype when {@code null}). A 4-bit
   * checkpoint's output head ({@code lm_head.weight}, or the embedding when there is none: tied) is
   * held as INT8, as the engine quantizes it at load.
   */
  public static long weightsBytes(Path dir, Dtype dtype) throws IOException {
    List<SafetensorsHeaders.Tensor> tensors = new ArrayList<>();
    int files = 0;
    try (Stream<Path> list = Files.list(dir)) {
      for (Path file :
          (Iterable<Path>)
              list.filter(f -> f.toString().endsWith(".safetensors")).sorted()::iterator) {
        files++;
        tensors.addAll(SafetensorsHeaders.read(file).values());
      }
    }
    if (files == 0) {
      throw new IOException("no .safetensors files in " + dir);
    }
    boolean untied = tensors.stream().anyMatch(t -> t.name().equals(LM_HEAD));
    boolean fourBit = tensors.stream().anyMatch(t -> fourBitHeldBytes(t) != null);
    String head = untied ? LM_HEAD : EMBEDDING; // tied, the embedding is the head
    long total = 0;
    for (SafetensorsHeaders.Tensor t : tensors) {
      // quantizing at load leaves an untied embedding as stored: it is only gathered; a 4-bit
      // checkpoint's head is held as INT8
      boolean asStored = dtype == Dtype.INT8 && untied && t.name().equals(EMBEDDING);
      total +=
          heldBytes(t, asStored ? null : fourBit && t.name().equals(head) ? Dtype.INT8 : dtype);
    }
    return total;
  }

  private static final String EMBEDDING = "model.embed_tokens.weight";
  private static final String LM_HEAD = "lm_head.weight";

  /**
   * Bytes one tensor takes held in {@code dtype}. INT8 holds each floating-point matrix as one byte
   * per element plus an F32 scale per row and an F16 scale per 32 columns of each row, and the
   * vectors (norms, biases) and stored scales as F32, as the engine does (except an untied
   * embedding, which {@link #weightsBytes} counts as stored).
   */
  static long heldBytes(SafetensorsHeaders.Tensor t, Dtype dtype) {
    Long fourBit = fourBitHeldBytes(t);
    if (fourBit != null) {
      return fourBit;
    }
    boolean floating = t.dtype().startsWith("F") || t.dtype().equals("BF16");
    if (dtype == null || !floating) {
      return t.elements() * SafetensorsHeaders.elementBytes(t.dtype());
    }
    if (dtype == Dtype.INT8) {
      boolean matrix = t.shape().size() == 2 && !t.name().endsWith("_scale");
      if (!matrix) {
        return t.elements() * 4;
      }
      long rows = t.shape().get(0);
      long blocks = (t.shape().get(1) + 31) / 32;
      return t.elements() + rows * 4 + rows * blocks * 2;
    }
    return t.elements() * (dtype == Dtype.F32 ? 4 : 2);
  }

  /**
   * The tensors of an AWQ or GPTQ 4-bit linear weight as the engine holds them, or {@code null} for
   * any other tensor: the engine packs {@code qweight} with its scales and zero points into 544
   * bytes for every 512 bytes of nibbles (an F16 scale, a zero-point byte and padding per 8 rows x
   * 128 columns), so {@code qweight} counts 17/16 of its stored bytes and {@code qzeros} and {@code
   * scales} nothing; {@code g_idx} counts as stored (the act-order permutation it becomes).
   */
  static Long fourBitHeldBytes(SafetensorsHeaders.Tensor t) {
    if (!t.dtype().equals("I32") && !t.dtype().equals("F16")) {
      return null;
    }
    String name = t.name();
    if (name.endsWith(".qweight") && t.dtype().equals("I32")) {
      return t.elements() * 4 * 17 / 16;
    }
    if (name.endsWith(".qzeros") || name.endsWith(".scales")) {
      return 0L;
    }
    if (name.endsWith(".g_idx")) {
      return t.elements() * 4;
    }
    return null;
  }

  public static Shapes shapes(Path dir) throws IOException {
    Path config = dir.resolve("config.json");
    if (!Files.isRegularFile(config)) {
      throw new IOException("no config.json in " + dir);
    }
    JsonNode json = JSON.readTree(config.toFile());
    int hidden = required(json, "hidden_size");
    int heads = required(json, "num_attention_heads");
    JsonNode headDim = json.get("head_dim");
    return new Shapes(
        hidden,
        required(json, "intermediate_size"),
        required(json, "num_hidden_layers"),
        heads,
        json.has("num_key_value_heads") ? json.get("num_key_value_heads").asInt() : heads,
        headDim == null || headDim.isNull() ? hidden / heads : headDim.asInt());
  }

  private static int required(JsonNode json, String field) throws IOException {
    if (!json.path(field).canConvertToInt() || json.path(field).asInt() <= 0) {
      throw new IOException("config.json has no positive " + field);
    }
    return json.get(field).asInt();
  }
}
