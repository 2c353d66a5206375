package dev.flotilla.testkit;

import java.nio.file.Path;
import java.util.List;

/**
 * A model directory {@link TinyModelGenerator} wrote: its config and the safetensors files holding
 * weights.
 */
public record GeneratedModel(
    Path directory, ModelConfig config, List<Path> weightFiles, long parameterCount) {

  public GeneratedModel {
    weightFiles = List.copyOf(weightFiles);
  }

  public boolean sharded() {
    return weightFiles.size() > 1;
  }
}
