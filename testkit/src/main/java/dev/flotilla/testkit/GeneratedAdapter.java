package dev.flotilla.testkit;

import java.nio.file.Path;

/** A PEFT adapter directory {@link LoraAdapterGenerator} wrote. */
public record GeneratedAdapter(Path directory, LoraConfig config) {

  public Path weightsFile() {
    return directory.resolve(LoraConfig.WEIGHTS_FILE);
  }
}
