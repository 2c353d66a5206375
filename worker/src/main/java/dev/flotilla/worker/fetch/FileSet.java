package dev.flotilla.worker.fetch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Which files of a repository or prefix the worker needs: a base model (config, tokenizer, weights)
 * or a PEFT adapter. Only top-level files are taken; documentation, other weight formats and
 * subdirectories are left where they are.
 */
public enum FileSet {
  MODEL(
      Set.of(
          "config.json",
          "generation_config.json",
          "tokenizer.json",
          "tokenizer_config.json",
          "special_tokens_map.json"),
      List.of("config.json", "tokenizer.json")),
  ADAPTER(
      Set.of("adapter_config.json", "adapter_model.safetensors"),
      List.of("adapter_config.json", "adapter_model.safetensors"));

  private final Set<String> named;
  private final List<String> required;

  FileSet(Set<String> named, List<String> required) {
    this.named = named;
    this.required = required;
  }

  /** Whether {@code name} (a path relative to the repository root) is fetched. */
  public boolean wants(String name) {
    if (name.contains("/")) {
      return false;
    }
    return named.contains(name)
        || this == MODEL
            && (name.endsWith(".safetensors") || name.endsWith(".safetensors.index.json"));
  }

  /**
   * The needed files among {@code available}, sorted; fails naming the first required one absent.
   */
  public List<String> select(Collection<String> available, String where) {
    for (String r : required) {
      if (!available.contains(r)) {
        throw new FetchException(r, where + " has no " + r);
      }
    }
    List<String> out = available.stream().filter(this::wants).sorted().collect(Collectors.toList());
    if (this == MODEL && out.stream().noneMatch(n -> n.endsWith(".safetensors"))) {
      throw new FetchException("*.safetensors", where + " has no .safetensors weights");
    }
    return out;
  }

  /**
   * The weights among {@code selected} once the small files are in {@code dir}: with a {@code
   * model.safetensors.index.json}, only the shards its weight map names (a repository may also hold
   * a consolidated copy of the same weights); otherwise every selected {@code .safetensors}.
   */
  public static List<String> weights(Path dir, List<String> selected) {
    Path index = dir.resolve("model.safetensors.index.json");
    List<String> weights =
        selected.stream().filter(n -> n.endsWith(".safetensors")).collect(Collectors.toList());
    if (!Files.isRegularFile(index)) {
      return weights;
    }
    Set<String> shards = new HashSet<>();
    try {
      JsonNode map = new ObjectMapper().readTree(index.toFile()).path("weight_map");
      map.elements().forEachRemaining(v -> shards.add(v.asText()));
    } catch (IOException e) {
      throw new FetchException(
          "model.safetensors.index.json", "model.safetensors.index.json: " + e.getMessage(), e);
    }
    for (String shard : shards) {
      if (!weights.contains(shard)) {
        throw new FetchException(
            shard, "model.safetensors.index.json names " + shard + ", which is not there");
      }
    }
    return weights.stream().filter(shards::contains).collect(Collectors.toList());
  }

  /** The files of {@code selected} that are not weights (fetched first: the index decides). */
  public static List<String> small(List<String> selected) {
    return selected.stream().filter(n -> !n.endsWith(".safetensors")).collect(Collectors.toList());
  }
}
