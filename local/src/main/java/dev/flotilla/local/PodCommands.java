package dev.flotilla.local;

import io.fabric8.kubernetes.api.model.Container;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a container becomes on this machine. A container that names a {@code command} runs it as it
 * is (arguments appended); otherwise its image is looked up among the images this repository
 * builds, each mapped to the command that runs its build output (the worker image to {@code java
 * -jar worker/target/quarkus-app/quarkus-run.jar}). The container's {@code args} follow in both
 * cases, as in Kubernetes.
 */
public final class PodCommands {
  private final Map<String, List<String>> images = new LinkedHashMap<>();

  /**
   * Runs containers whose image repository ends with {@code imageName} (any registry and tag) as
   * {@code command}.
   */
  public PodCommands image(String imageName, List<String> command) {
    images.put(imageName, List.copyOf(command));
    return this;
  }

  public Optional<List<String>> commandFor(Container container) {
    List<String> command = new ArrayList<>();
    if (container.getCommand() != null && !container.getCommand().isEmpty()) {
      command.addAll(container.getCommand());
    } else {
      Optional<List<String>> image =
          Optional.ofNullable(images.get(repositoryName(container.getImage())));
      if (image.isEmpty()) {
        return Optional.empty();
      }
      command.addAll(image.get());
    }
    if (container.getArgs() != null) {
      command.addAll(container.getArgs());
    }
    return Optional.of(command);
  }

  /** {@code ghcr.io/flotilla-dev/flotilla-worker:0.1.0} → {@code flotilla-worker}. */
  static String repositoryName(String image) {
    if (image == null) {
      return "";
    }
    String name = image.contains("@") ? image.substring(0, image.indexOf('@')) : image;
    int slash = name.lastIndexOf('/');
    int colon = name.lastIndexOf(':');
    if (colon > slash) {
      name = name.substring(0, colon);
    }
    return name.substring(slash + 1);
  }
}
