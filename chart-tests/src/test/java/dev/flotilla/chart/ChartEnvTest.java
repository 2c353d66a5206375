package dev.flotilla.chart;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.chart.FlotillaChart.Rendered;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every environment variable the chart sets on the operator and the gateway is read by them: a
 * value that reaches a pod and changes nothing would be silently ignored. The names their
 * configuration declares come from the config interfaces themselves ({@link DeclaredSettings}).
 */
class ChartEnvTest {
  private static final String BOTH = "dev.flotilla.chart.FlotillaChart#bothRenders";

  /** Quarkus' own settings the chart sets (read by Quarkus, not by a Flotilla interface). */
  private static final Set<String> QUARKUS = Set.of("QUARKUS_LOG_LEVEL");

  private static final Pattern REFERENCE = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");

  @ParameterizedTest
  @MethodSource(BOTH)
  void everyOperatorVariableIsAnOperatorSetting(Rendered rendered) {
    assertThat(unread(deployment(rendered, "operator"), DeclaredSettings.operator()))
        .as("variables the chart sets on the operator that OperatorSettings does not declare")
        .isEmpty();
  }

  @ParameterizedTest
  @MethodSource(BOTH)
  void everyGatewayVariableIsAGatewaySetting(Rendered rendered) {
    assertThat(unread(deployment(rendered, "gateway"), DeclaredSettings.gateway()))
        .as("variables the chart sets on the gateway that GatewayConfig does not declare")
        .isEmpty();
  }

  /**
   * The container's variables that are neither declared settings, nor Quarkus' own, nor used by
   * another of its variables through Kubernetes' {@code $(NAME)} expansion.
   */
  private static List<String> unread(Deployment deployment, Set<String> declared) {
    List<EnvVar> env = deployment.getSpec().getTemplate().getSpec().getContainers().get(0).getEnv();
    Set<String> referenced =
        env.stream()
            .filter(e -> e.getValue() != null)
            .flatMap(e -> REFERENCE.matcher(e.getValue()).results().map(m -> m.group(1)))
            .collect(Collectors.toSet());
    return env.stream()
        .map(EnvVar::getName)
        .filter(
            name ->
                !declared.contains(name) && !QUARKUS.contains(name) && !referenced.contains(name))
        .toList();
  }

  private static Deployment deployment(Rendered rendered, String component) {
    return rendered.all(Deployment.class).stream()
        .filter(
            d -> component.equals(d.getMetadata().getLabels().get("app.kubernetes.io/component")))
        .findFirst()
        .orElseThrow();
  }
}
