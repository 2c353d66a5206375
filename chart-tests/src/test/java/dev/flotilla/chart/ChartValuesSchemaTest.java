package dev.flotilla.chart;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * values.schema.json turns a wrong value into a Helm error that names it, before any template runs.
 */
class ChartValuesSchemaTest {

  static Stream<Arguments> badValues() {
    return Stream.of(
        Arguments.of(
            "gateway.replicas",
            "three",
            "gateway.replicas: Invalid type. Expected: integer, given: string"),
        Arguments.of("colour", "blue", "Additional property colour is not allowed"),
        Arguments.of("gateway.replicaCount", 3, "Additional property replicaCount is not allowed"),
        Arguments.of("image.tag", "latest", "image.tag"),
        Arguments.of(
            "image.pullPolicy", "Sometimes", "image.pullPolicy must be one of the following"),
        Arguments.of(
            "gateway.service.type", "Ingress", "gateway.service.type must be one of the following"),
        Arguments.of(
            "operator.logLevel", "VERBOSE", "operator.logLevel must be one of the following"),
        Arguments.of(
            "operator.scaling.scaleToZeroEnabled",
            "no",
            "operator.scaling.scaleToZeroEnabled: Invalid type"),
        // Per-model scaling lives in each ModelDeployment's spec.scaling, where the CRD fills in
        // its defaults; a cluster-wide value could never apply, so the chart refuses one.
        Arguments.of(
            "operator.scaling.scaleToZeroAfter",
            "5m",
            "Additional property scaleToZeroAfter is not allowed"),
        Arguments.of(
            "operator.scaling.coldStartTimeout",
            "2m",
            "Additional property coldStartTimeout is not allowed"),
        Arguments.of(
            "operator.worker.terminationGracePeriod",
            120,
            "operator.worker.terminationGracePeriod: Invalid type"),
        // The operator reads these as Quarkus durations, which take whole h/m/s only.
        Arguments.of(
            "operator.worker.terminationGracePeriod",
            "1.5m",
            "operator.worker.terminationGracePeriod: Does not match pattern"),
        Arguments.of("mtls.caPropagation", "1m100ms", "mtls.caPropagation: Does not match pattern"),
        Arguments.of(
            "operator.leaderElection.enabled",
            "yes",
            "operator.leaderElection.enabled: Invalid type"),
        Arguments.of(
            "metrics.serviceMonitor.enabled", "on", "metrics.serviceMonitor.enabled: Invalid type"),
        Arguments.of(
            "gateway.podDisruptionBudget.minAvailable",
            "half",
            "gateway.podDisruptionBudget.minAvailable: Does not match pattern"));
  }

  @ParameterizedTest(name = "{0}={1}")
  @MethodSource("badValues")
  void rejectsABadValueWithASchemaMessage(String key, Object value, String message) {
    assertThatThrownBy(() -> FlotillaChart.template("flotilla", null, Map.of(key, value)))
        .hasMessageContaining("values don't meet the specifications of the schema")
        .hasMessageContaining(message);
  }

  @Test
  void acceptsDurationsTheOperatorCanRead() {
    String manifests =
        FlotillaChart.template(
            "flotilla",
            null,
            Map.of(
                "operator.worker.terminationGracePeriod",
                "2m30s",
                "mtls.certificateLifetime",
                "1h30m"));

    assertThat(manifests).contains("value: \"2m30s\"", "value: \"1h30m\"");
  }

  @Test
  void acceptsAPercentageForThePdb() {
    String manifests =
        FlotillaChart.template(
            "flotilla",
            null,
            Map.of(
                "gateway.podDisruptionBudget.enabled",
                true,
                "gateway.podDisruptionBudget.minAvailable",
                "50%"));

    assertThat(manifests).contains("minAvailable: 50%");
  }

  @Test
  void everyValueInValuesYamlIsDescribedByTheSchema() throws IOException {
    ObjectMapper mapper = new ObjectMapper(new YAMLFactory());
    JsonNode values = mapper.readTree(FlotillaChart.chartDir().resolve("values.yaml").toFile());
    JsonNode schema =
        mapper.readTree(FlotillaChart.chartDir().resolve("values.schema.json").toFile());

    assertThat(schema.get("$schema").asText()).isEqualTo("http://json-schema.org/draft-07/schema#");
    assertThat(schema.get("additionalProperties").asBoolean(true)).isFalse();
    assertDescribed("", values, schema);
  }

  /**
   * An image reference is never rendered without a tag, even when the chart loses its appVersion.
   */
  @Test
  void failsOnAnEmptyImageTag(@TempDir Path copy) throws IOException {
    Path chart = copyChart(copy.resolve("flotilla"));
    Path chartYaml = chart.resolve("Chart.yaml");
    Files.writeString(chartYaml, Files.readString(chartYaml).replaceAll("(?m)^appVersion:.*$", ""));

    assertThatThrownBy(() -> new Helm(chart).template().withName("flotilla").call())
        .hasMessageContaining("image.tag is empty");
  }

  private static void assertDescribed(String path, JsonNode value, JsonNode schema) {
    assertThat(schema).as("schema of %s", path).isNotNull();
    assertThat(schema.has("type")).as("%s is typed", path).isTrue();
    if (value.isObject() && schema.has("properties")) {
      value
          .fieldNames()
          .forEachRemaining(
              field ->
                  assertDescribed(
                      path + "." + field, value.get(field), schema.get("properties").get(field)));
    }
  }

  private static Path copyChart(Path target) throws IOException {
    Path source = FlotillaChart.chartDir();
    try (Stream<Path> files = Files.walk(source)) {
      for (Path file : files.toList()) {
        Path to = target.resolve(source.relativize(file).toString());
        if (Files.isDirectory(file)) {
          Files.createDirectories(to);
        } else {
          Files.copy(file, to);
        }
      }
    }
    return target;
  }
}
