package dev.flotilla.api.crd;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The checked-in CRDs in crds/ must be exactly what the build generates from the Java classes.
 * After changing a class, refresh them (and the Helm chart's copies) with {@code ./mvnw -pl api
 * verify -Dflotilla.crds.update=true}.
 */
class CrdYamlTest {
  private static final boolean UPDATE = Boolean.getBoolean("flotilla.crds.update");

  @Test
  void checkedInCrdsEqualGeneratedOnes() throws IOException {
    Path checkedIn = RepositoryFiles.root().resolve("crds");
    List<Path> generated = yamlFiles(RepositoryFiles.generatedCrds());
    assertThat(generated).as("generated CRDs").hasSize(4);

    if (UPDATE) {
      // The Helm chart carries its own copy (chart-tests checks that it matches crds/).
      for (Path dir : List.of(checkedIn, RepositoryFiles.root().resolve("charts/flotilla/crds"))) {
        for (Path existing : yamlFiles(dir)) {
          Files.delete(existing);
        }
        for (Path file : generated) {
          Files.copy(file, dir.resolve(file.getFileName()));
        }
      }
    }

    assertThat(names(yamlFiles(checkedIn)))
        .as("files in crds/ (refresh with -Dflotilla.crds.update=true)")
        .containsExactlyElementsOf(names(generated));
    for (Path file : generated) {
      assertThat(Files.readString(checkedIn.resolve(file.getFileName())))
          .as(
              "crds/%s differs from the generated CRD (refresh with -Dflotilla.crds.update=true)",
              file.getFileName())
          .isEqualTo(Files.readString(file));
    }
  }

  private static List<Path> yamlFiles(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(p -> p.toString().endsWith(".yml")).sorted().toList();
    }
  }

  private static List<String> names(List<Path> files) {
    return files.stream().map(p -> p.getFileName().toString()).toList();
  }
}
