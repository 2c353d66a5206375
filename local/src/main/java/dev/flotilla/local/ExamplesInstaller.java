package dev.flotilla.local;

import dev.flotilla.api.crd.LoraAdapter;
import dev.flotilla.api.crd.ModelDeployment;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Applies the repository's {@code examples/} with the model and adapter sources pointed at the
 * generated files (the examples themselves say {@code /var/lib/flotilla/...}, a cluster path).
 * Creates what is missing and updates what exists, like {@code kubectl apply}.
 */
public final class ExamplesInstaller {
  private ExamplesInstaller() {}

  /**
   * @param sources model or adapter name → the directory that holds its files
   */
  public static List<HasMetadata> apply(
      KubernetesClient client, Path examplesDir, Map<String, Path> sources) throws IOException {
    List<Path> files;
    try (Stream<Path> list = Files.list(examplesDir)) {
      files = list.filter(p -> p.toString().matches(".*\\.ya?ml$")).sorted().toList();
    }
    List<HasMetadata> applied = new ArrayList<>();
    for (Path file : files) {
      try (InputStream in = Files.newInputStream(file)) {
        for (HasMetadata object : client.load(in).items()) {
          rewriteSources(object, sources);
          applied.add(client.resource(object).createOr(NonDeletingOperation::update));
        }
      }
    }
    return applied;
  }

  static void rewriteSources(HasMetadata object, Map<String, Path> sources) {
    Path local = sources.get(object.getMetadata().getName());
    if (local == null) {
      return;
    }
    String source = "file://" + local.toAbsolutePath();
    if (object instanceof ModelDeployment md) {
      md.getSpec().getModel().setSource(source);
    } else if (object instanceof LoraAdapter adapter) {
      adapter.getSpec().setSource(source);
    } else if (object instanceof GenericKubernetesResource generic
        && generic.getAdditionalProperties().get("spec") instanceof Map<?, ?> spec) {
      // Loaded untyped when the CRD classes are not registered with the client's serializer.
      @SuppressWarnings("unchecked")
      Map<String, Object> writable = (Map<String, Object>) spec;
      if ("ModelDeployment".equals(generic.getKind())
          && writable.get("model") instanceof Map<?, ?> model) {
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) model;
        m.put("source", source);
      } else if ("LoraAdapter".equals(generic.getKind())) {
        writable.put("source", source);
      }
    }
  }
}
