package dev.flotilla.chart;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.flotilla.chart.FlotillaChart.Rendered;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.util.Properties;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * With its default values the chart installs the images {@code ./flotilla images} builds: the names
 * come from images/images.properties and the tag from the chart's appVersion, for the build
 * (images/build.sh) as for this test, so the two cannot name different images.
 */
class ChartImagesTest {
  private static Properties images;
  private static String appVersion;
  private static Rendered rendered;

  @BeforeAll
  static void readNamesAndRender() throws IOException {
    images = new Properties();
    try (Reader in =
        Files.newBufferedReader(FlotillaChart.repoRoot().resolve("images/images.properties"))) {
      images.load(in);
    }
    appVersion =
        new ObjectMapper(new YAMLFactory())
            .readTree(FlotillaChart.chartDir().resolve("Chart.yaml").toFile())
            .get("appVersion")
            .asText();
    rendered = FlotillaChart.renderDefaults();
  }

  @Test
  void operatorAndGatewayRunTheBuiltImages() {
    assertThat(container("flotilla-operator").getImage()).isEqualTo(built("operator"));
    assertThat(container("flotilla-gateway").getImage()).isEqualTo(built("gateway"));
  }

  @Test
  void operatorStartsWorkersFromTheBuiltWorkerImage() {
    assertThat(container("flotilla-operator").getEnv())
        .filteredOn(e -> e.getName().equals("FLOTILLA_OPERATOR_WORKER_IMAGE"))
        .extracting(EnvVar::getValue)
        .containsExactly(built("worker"));
  }

  /** The images hold files the user may read and a passwd entry for it; the pods use it. */
  @Test
  void podsRunAsTheImagesUser() {
    long uid = Long.parseLong(images.getProperty("uid"));
    for (String name : new String[] {"flotilla-operator", "flotilla-gateway"}) {
      PodSpec pod = rendered.one(Deployment.class, name).getSpec().getTemplate().getSpec();
      assertThat(pod.getSecurityContext().getRunAsUser()).as(name).isEqualTo(uid);
      assertThat(pod.getSecurityContext().getRunAsGroup()).as(name).isEqualTo(uid);
      assertThat(pod.getContainers().get(0).getSecurityContext().getRunAsUser())
          .as(name)
          .isEqualTo(uid);
    }
  }

  /** What images/build.sh tags a component's image with. */
  private static String built(String component) {
    return images.getProperty("registry") + "/" + images.getProperty(component) + ":" + appVersion;
  }

  private static Container container(String deployment) {
    return rendered
        .one(Deployment.class, deployment)
        .getSpec()
        .getTemplate()
        .getSpec()
        .getContainers()
        .get(0);
  }
}
