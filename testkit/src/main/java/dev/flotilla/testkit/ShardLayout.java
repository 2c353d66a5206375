package dev.flotilla.testkit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Splits an ordered tensor list into N files the way {@code save_pretrained(max_shard_size=...)}
 * does: contiguous runs of roughly equal bytes named {@code model-0000k-of-0000N.safetensors}, plus
 * the {@code model.safetensors.index.json} that maps every tensor to its file.
 */
final class ShardLayout {

  static final String SINGLE_FILE = "model.safetensors";
  static final String INDEX_FILE = "model.safetensors.index.json";

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private ShardLayout() {}

  static String shardFileName(int shard, int shards) {
    return shards == 1
        ? SINGLE_FILE
        : String.format("model-%05d-of-%05d.safetensors", shard + 1, shards);
  }

  /** File name → its tensors in order; every file gets at least one tensor. */
  static Map<String, List<TensorSpec>> split(List<TensorSpec> tensors, int shards) {
    if (shards < 1 || shards > tensors.size()) {
      throw new IllegalArgumentException(
          "cannot split " + tensors.size() + " tensors into " + shards + " files");
    }
    long total = tensors.stream().mapToLong(TensorSpec::byteSize).sum();
    Map<String, List<TensorSpec>> files = new LinkedHashMap<>();
    long bytesBefore = 0;
    int shard = 0;
    for (int i = 0; i < tensors.size(); i++) {
      int proportional = total == 0 ? 0 : (int) Math.min(shards - 1, bytesBefore * shards / total);
      int atLeast =
          Math.max(shard, shards - (tensors.size() - i)); // leave a tensor for every later file
      int atMost = i == 0 ? 0 : shard + 1; // never leave a file empty
      shard = Math.min(atMost, Math.max(atLeast, proportional));
      files
          .computeIfAbsent(shardFileName(shard, shards), k -> new ArrayList<>())
          .add(tensors.get(i));
      bytesBefore += tensors.get(i).byteSize();
    }
    return files;
  }

  static void writeIndex(Path modelDir, Map<String, List<TensorSpec>> files) throws IOException {
    Map<String, String> weightMap =
        new TreeMap<>(); // transformers writes the map sorted by tensor name
    long totalSize = 0;
    for (Map.Entry<String, List<TensorSpec>> file : files.entrySet()) {
      for (TensorSpec tensor : file.getValue()) {
        weightMap.put(tensor.name(), file.getKey());
        totalSize += tensor.byteSize();
      }
    }
    Map<String, Object> index = new LinkedHashMap<>();
    index.put("metadata", Map.of("total_size", totalSize));
    index.put("weight_map", weightMap);
    JSON.writeValue(modelDir.resolve(INDEX_FILE).toFile(), index);
  }
}
