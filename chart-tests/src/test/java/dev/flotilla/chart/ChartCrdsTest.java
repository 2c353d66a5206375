package dev.flotilla.chart;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The chart installs the CRDs generated from the Java classes, unchanged. After regenerating crds/
 * (see README), copy them: {@code cp crds/*.yml charts/flotilla/crds/}.
 */
class ChartCrdsTest {

  @Test
  void chartCrdsAreByteIdenticalCopiesOfTheGeneratedOnes() throws IOException {
    Path generated = FlotillaChart.repoRoot().resolve("crds");
    Path inChart = FlotillaChart.chartDir().resolve("crds");

    assertThat(fileNames(inChart))
        .as("files in charts/flotilla/crds")
        .isEqualTo(fileNames(generated))
        .isNotEmpty();
    for (String name : fileNames(generated)) {
      assertThat(Files.readAllBytes(inChart.resolve(name)))
          .as("charts/flotilla/crds/%s differs from crds/%s; copy it over", name, name)
          .isEqualTo(Files.readAllBytes(generated.resolve(name)));
    }
  }

  private static List<String> fileNames(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }
}
