package dev.flotilla.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

/**
 * Deliberately broken copies of valid adapters and safetensors files, for tests that loaders refuse
 * bad input with a clear error instead of crashing. Each method leaves its source untouched and
 * writes the broken variant to the target, which it returns. Each variant breaks exactly one thing,
 * so a test can name the error it expects.
 */
public final class CorruptFiles {

  private CorruptFiles() {}

  /**
   * An adapter whose adapter_config.json claims rank {@code claimedRank} while its tensors keep the
   * real one.
   */
  public static Path wrongRankInConfig(Path adapterDir, Path targetDir, int claimedRank)
      throws IOException {
    copyDirectory(adapterDir, targetDir);
    LoraConfig.read(adapterDir).withRank(claimedRank).write(targetDir);
    return targetDir;
  }

  /**
   * An adapter missing one tensor a target module needs: the lora_B of the first adapted
   * projection.
   */
  public static Path missingTargetTensor(Path adapterDir, Path targetDir) throws IOException {
    copyDirectory(adapterDir, targetDir);
    Path weights = targetDir.resolve(LoraConfig.WEIGHTS_FILE);
    rewrite(
        adapterDir.resolve(LoraConfig.WEIGHTS_FILE),
        weights,
        firstName(weights, ".lora_B.weight"),
        null);
    return targetDir;
  }

  /** An adapter whose first lora_A has one input column too many for its base projection. */
  public static Path shapeMismatch(Path adapterDir, Path targetDir) throws IOException {
    copyDirectory(adapterDir, targetDir);
    Path weights = targetDir.resolve(LoraConfig.WEIGHTS_FILE);
    String victim = firstName(weights, ".lora_A.weight");
    rewrite(
        adapterDir.resolve(LoraConfig.WEIGHTS_FILE),
        weights,
        victim,
        spec -> {
          List<Long> shape = new ArrayList<>(spec.shape());
          shape.set(1, shape.get(1) + 1);
          return new TensorSpec(spec.name(), spec.dtype(), shape);
        });
    return targetDir;
  }

  /** The file cut off halfway through its JSON header. */
  public static Path truncatedHeader(Path safetensors, Path target) throws IOException {
    byte[] bytes = Files.readAllBytes(safetensors);
    long headerLength = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    Files.write(target, Arrays.copyOf(bytes, 8 + (int) (headerLength / 2)));
    return target;
  }

  /**
   * All bytes intact, but the 8-byte length prefix declares a header longer than the whole file.
   */
  public static Path headerLengthPastEof(Path safetensors, Path target) throws IOException {
    byte[] bytes = Files.readAllBytes(safetensors);
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(0, bytes.length);
    Files.write(target, bytes);
    return target;
  }

  /**
   * A well-formed header whose last tensor claims twice its rows, shape and offsets agreeing, so
   * its data would run past the end of the file. The only fault is the missing data.
   */
  public static Path dataOffsetsPastEof(Path safetensors, Path target) throws IOException {
    ObjectNode header = SafetensorsHeader.read(safetensors);
    ObjectNode last = null;
    Iterator<Map.Entry<String, JsonNode>> fields = header.fields();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> field = fields.next();
      if (!field.getKey().equals(SafetensorsHeader.METADATA_KEY)) {
        ObjectNode entry = (ObjectNode) field.getValue();
        if (last == null
            || entry.get("data_offsets").get(1).asLong()
                > last.get("data_offsets").get(1).asLong()) {
          last = entry;
        }
      }
    }
    if (last == null) {
      throw new IllegalArgumentException(safetensors + " holds no tensors");
    }
    ArrayNode shape = (ArrayNode) last.get("shape");
    ArrayNode offsets = (ArrayNode) last.get("data_offsets");
    long begin = offsets.get(0).asLong();
    long end = offsets.get(1).asLong();
    shape.set(0, shape.get(0).asLong() * 2);
    offsets.set(1, begin + 2 * (end - begin));

    byte[] original = Files.readAllBytes(safetensors);
    long dataStart = 8 + ByteBuffer.wrap(original).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    byte[] newHeader = SafetensorsHeader.encode(header);
    byte[] out = new byte[newHeader.length + original.length - (int) dataStart];
    System.arraycopy(newHeader, 0, out, 0, newHeader.length);
    System.arraycopy(
        original, (int) dataStart, out, newHeader.length, original.length - (int) dataStart);
    Files.write(target, out);
    return target;
  }

  /** Copies the regular files of a flat directory such as a model or adapter directory. */
  public static void copyDirectory(Path source, Path target) throws IOException {
    Files.createDirectories(target);
    try (Stream<Path> files = Files.list(source)) {
      for (Path file : (Iterable<Path>) files::iterator) {
        if (Files.isRegularFile(file)) {
          Files.copy(file, target.resolve(file.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
  }

  private static String firstName(Path safetensors, String suffix) throws IOException {
    try (SafetensorsReader reader = SafetensorsReader.open(safetensors)) {
      return reader.tensors().keySet().stream()
          .filter(n -> n.endsWith(suffix))
          .findFirst()
          .orElseThrow(
              () ->
                  new IllegalArgumentException(
                      "no tensor ending in " + suffix + " in " + safetensors));
    }
  }

  /**
   * Rewrites a file with one tensor dropped ({@code reshape} null) or given a new shape and zero
   * data.
   */
  private static void rewrite(
      Path source, Path target, String victim, UnaryOperator<TensorSpec> reshape)
      throws IOException {
    List<TensorSpec> specs = new ArrayList<>();
    List<double[]> values = new ArrayList<>();
    try (SafetensorsReader reader = SafetensorsReader.open(source)) {
      for (TensorInfo info : reader.tensors().values()) {
        if (!info.name().equals(victim)) {
          specs.add(info.spec());
          values.add(reader.readDoubles(info.name()));
        } else if (reshape != null) {
          TensorSpec reshaped = reshape.apply(info.spec());
          specs.add(reshaped);
          values.add(new double[Math.toIntExact(reshaped.elementCount())]);
        }
      }
    }
    SafetensorsWriter.writeAll(target, specs, values);
  }
}
