package dev.flotilla.chart;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;

/** Where the chart lives, and its output rendered by Helm (helm-java, no helm binary). */
final class FlotillaChart {
  static final String NAMESPACE = "flotilla-system";

  private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

  private FlotillaChart() {}

  static Path repoRoot() {
    return Path.of(System.getProperty("flotilla.repo.root", "..")).toAbsolutePath().normalize();
  }

  static Path chartDir() {
    return repoRoot().resolve("charts/flotilla");
  }

  /** The non-default values set of these tests (src/test/resources/custom-values.yaml). */
  static Path customValues() {
    try {
      return Path.of(FlotillaChart.class.getResource("/custom-values.yaml").toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** `helm template` output as text; Helm's own error (schema violations included) on failure. */
  static String template(String release, Path valuesFile, Map<String, Object> sets) {
    TemplateCommand template =
        new Helm(chartDir()).template().withName(release).withNamespace(NAMESPACE);
    if (valuesFile != null) {
      template = template.withValuesFile(valuesFile);
    }
    for (Map.Entry<String, Object> set : sets.entrySet()) {
      template = template.set(set.getKey(), set.getValue());
    }
    return template.call();
  }

  static Rendered renderDefaults() {
    return Rendered.parse(template("flotilla", null, Map.of()));
  }

  static Rendered renderCustom() {
    return Rendered.parse(template("prod", customValues(), Map.of()));
  }

  /** The default render and the non-default one, named for parameterized tests. */
  static Stream<Named<Rendered>> bothRenders() {
    return Stream.of(
        Named.of("default values", renderDefaults()),
        Named.of("custom-values.yaml", renderCustom()));
  }

  /** The objects of one render, typed where Fabric8 knows the kind. */
  record Rendered(List<HasMetadata> objects) {
    static Rendered parse(String manifests) {
      List<HasMetadata> objects = new ArrayList<>();
      for (String document : manifests.split("(?m)^---\\s*$")) {
        boolean onlyComments =
            document
                .lines()
                .map(String::strip)
                .allMatch(line -> line.isEmpty() || line.startsWith("#"));
        if (!onlyComments) {
          objects.add(SERIALIZATION.unmarshal(document, HasMetadata.class));
        }
      }
      return new Rendered(List.copyOf(objects));
    }

    <T extends HasMetadata> List<T> all(Class<T> type) {
      return objects.stream().filter(type::isInstance).map(type::cast).toList();
    }

    <T extends HasMetadata> T one(Class<T> type, String name) {
      List<T> named =
          all(type).stream().filter(o -> o.getMetadata().getName().equals(name)).toList();
      if (named.size() != 1) {
        throw new AssertionError(
            "expected one "
                + type.getSimpleName()
                + " "
                + name
                + ", found "
                + named.size()
                + " among "
                + objects.stream()
                    .map(o -> o.getKind() + "/" + o.getMetadata().getName())
                    .toList());
      }
      return named.get(0);
    }

    List<HasMetadata> ofKind(String kind) {
      return objects.stream().filter(o -> o.getKind().equals(kind)).toList();
    }
  }
}
