package dev.flotilla.operator.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.quarkus.runtime.configuration.DurationConverter;
import io.smallrye.config.EnvConfigSource;
import io.smallrye.config.SmallRyeConfigBuilder;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link OperatorSettings} as Quarkus reads it from the environment variables the chart sets. */
class OperatorSettingsTest {
  private static OperatorSettings fromEnv(Map<String, String> env) {
    return new SmallRyeConfigBuilder()
        .withSources(new EnvConfigSource(env, EnvConfigSource.ORDINAL))
        .withConverter(Duration.class, 200, new DurationConverter())
        .withMapping(OperatorSettings.class)
        .build()
        .getConfigMapping(OperatorSettings.class);
  }

  @Test
  void workerPullSettingsComeFromTheChartsVariables() {
    OperatorSettings settings =
        fromEnv(
            Map.of(
                "FLOTILLA_OPERATOR_WORKER_IMAGE_PULL_POLICY", "Never",
                "FLOTILLA_OPERATOR_WORKER_IMAGE_PULL_SECRETS", "registry-credentials,mirror"));

    assertThat(settings.workerImagePullPolicy()).isEqualTo(ImagePullPolicy.Never);
    assertThat(settings.workerImagePullSecrets())
        .contains(List.of("registry-credentials", "mirror"));
  }

  @Test
  void theChartsEmptySecretListMeansNoSecretsAndThePolicyDefaultsToIfNotPresent() {
    OperatorSettings settings = fromEnv(Map.of("FLOTILLA_OPERATOR_WORKER_IMAGE_PULL_SECRETS", ""));

    assertThat(settings.workerImagePullSecrets()).isEmpty();
    assertThat(settings.workerImagePullPolicy()).isEqualTo(ImagePullPolicy.IfNotPresent);
  }

  @Test
  void aPullPolicyKubernetesDoesNotKnowStopsTheOperatorAtStartup() {
    assertThatThrownBy(
            () -> fromEnv(Map.of("FLOTILLA_OPERATOR_WORKER_IMAGE_PULL_POLICY", "ifnotpresent")))
        .hasMessageContaining("flotilla.operator.worker-image-pull-policy")
        .hasMessageContaining(
            "image pull policy \"ifnotpresent\" is not one of Always, IfNotPresent, Never");
  }

  @Test
  void theLeaderFindsItsOwnPodThroughTheChartsVariables() {
    OperatorSettings settings =
        fromEnv(
            Map.of(
                "FLOTILLA_OPERATOR_NAMESPACE", "flotilla-system",
                "FLOTILLA_OPERATOR_POD_NAME", "flotilla-operator-7d9c-x2x4q"));

    assertThat(settings.namespace()).isEqualTo("flotilla-system");
    assertThat(settings.podName()).contains("flotilla-operator-7d9c-x2x4q");
    assertThat(fromEnv(Map.of()).podName()).as("outside a pod").isEmpty();
  }

  @Test
  void scaleToZeroCanBeTurnedOffForTheCluster() {
    assertThat(fromEnv(Map.of()).scaling().scaleToZeroEnabled()).isTrue();
    assertThat(
            fromEnv(Map.of("FLOTILLA_OPERATOR_SCALING_SCALE_TO_ZERO_ENABLED", "false"))
                .scaling()
                .scaleToZeroEnabled())
        .isFalse();
  }
}
