package dev.flotilla.chart;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flotilla.chart.FlotillaChart.Rendered;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * gateway.kafka.security reaches the gateway's Kafka producer: the protocol and SASL mechanism as
 * settings, the JAAS line from a Secret (never a literal in the pod spec), and the brokers' CA
 * bundle as a mounted file the settings point at. Settings that cannot work fail the render by
 * name.
 */
class ChartKafkaTest {
  private static final String PREFIX = "FLOTILLA_GATEWAY_USAGE_KAFKA_SECURITY_";

  @Test
  void byDefaultTheProducerSpeaksPlaintextWithNoCredentialsOrCaMounted() {
    Deployment gateway = FlotillaChart.renderDefaults().one(Deployment.class, "flotilla-gateway");

    assertThat(env(gateway, PREFIX + "PROTOCOL")).map(EnvVar::getValue).hasValue("PLAINTEXT");
    for (String name : new String[] {"SASL_MECHANISM", "SASL_JAAS_CONFIG", "TRUSTSTORE"}) {
      assertThat(env(gateway, PREFIX + name)).as(name).isEmpty();
    }
    assertThat(pod(gateway).getVolumes()).extracting(Volume::getName).doesNotContain("kafka-ca");
  }

  @Test
  void saslOverTlsTakesItsCredentialsFromASecretAndItsCaFromAConfigMap() {
    Deployment gateway =
        FlotillaChart.renderCustom().one(Deployment.class, "prod-flotilla-gateway");

    assertThat(env(gateway, PREFIX + "PROTOCOL")).map(EnvVar::getValue).hasValue("SASL_SSL");
    assertThat(env(gateway, PREFIX + "SASL_MECHANISM"))
        .map(EnvVar::getValue)
        .hasValue("SCRAM-SHA-512");
    EnvVar jaas = env(gateway, PREFIX + "SASL_JAAS_CONFIG").orElseThrow();
    assertThat(jaas.getValue()).isNull();
    assertThat(jaas.getValueFrom().getSecretKeyRef().getName()).isEqualTo("kafka-usage-producer");
    assertThat(jaas.getValueFrom().getSecretKeyRef().getKey()).isEqualTo("jaas");

    Volume ca = volume(gateway, "kafka-ca");
    assertThat(ca.getSecret()).isNull();
    assertThat(ca.getConfigMap().getName()).isEqualTo("kafka-ca-bundle");
    assertThat(ca.getConfigMap().getItems())
        .singleElement()
        .satisfies(i -> assertThat(i.getKey() + "->" + i.getPath()).isEqualTo("ca.pem->ca.pem"));
    assertThat(container(gateway).getVolumeMounts())
        .filteredOn(m -> m.getName().equals("kafka-ca"))
        .singleElement()
        .satisfies(
            m -> {
              assertThat(m.getReadOnly()).isTrue();
              assertThat(env(gateway, PREFIX + "TRUSTSTORE"))
                  .map(EnvVar::getValue)
                  .hasValue(m.getMountPath() + "/ca.pem");
            });
  }

  @Test
  void tlsAloneMountsTheCaFromASecret() {
    Deployment gateway =
        render(
                Map.of(
                    "gateway.kafka.security.protocol", "SSL",
                    "gateway.kafka.security.truststore.secret", "kafka-ca"))
            .one(Deployment.class, "flotilla-gateway");

    assertThat(volume(gateway, "kafka-ca").getSecret().getSecretName()).isEqualTo("kafka-ca");
    assertThat(env(gateway, PREFIX + "TRUSTSTORE"))
        .map(EnvVar::getValue)
        .hasValue("/var/run/flotilla/kafka-ca/ca.crt");
    assertThat(env(gateway, PREFIX + "SASL_JAAS_CONFIG")).isEmpty();
  }

  @Test
  void settingsThatCannotWorkFailTheRenderByName() {
    assertThatThrownBy(() -> render(Map.of("gateway.kafka.security.protocol", "SASL_SSL")))
        .hasMessageContaining(
            "gateway.kafka.security.protocol SASL_SSL needs"
                + " gateway.kafka.security.sasl.jaasConfigSecret.name");
    assertThatThrownBy(
            () -> render(Map.of("gateway.kafka.security.sasl.jaasConfigSecret.name", "creds")))
        .hasMessageContaining(
            "gateway.kafka.security.sasl is set but gateway.kafka.security.protocol is PLAINTEXT");
    assertThatThrownBy(
            () -> render(Map.of("gateway.kafka.security.truststore.configMap", "kafka-ca")))
        .hasMessageContaining("does not use TLS");
    assertThatThrownBy(
            () ->
                render(
                    Map.of(
                        "gateway.kafka.security.protocol", "SSL",
                        "gateway.kafka.security.truststore.secret", "a",
                        "gateway.kafka.security.truststore.configMap", "b")))
        .hasMessageContaining("set secret or configMap, not both");
    assertThatThrownBy(() -> render(Map.of("gateway.kafka.security.protocol", "TLS")))
        .hasMessageContaining("gateway.kafka.security.protocol must be one of the following");
  }

  private static Rendered render(Map<String, Object> sets) {
    return Rendered.parse(FlotillaChart.template("flotilla", null, sets));
  }

  private static Container container(Deployment d) {
    return pod(d).getContainers().get(0);
  }

  private static PodSpec pod(Deployment d) {
    return d.getSpec().getTemplate().getSpec();
  }

  private static Optional<EnvVar> env(Deployment d, String name) {
    return container(d).getEnv().stream().filter(e -> e.getName().equals(name)).findFirst();
  }

  private static Volume volume(Deployment d, String name) {
    return pod(d).getVolumes().stream()
        .filter(v -> v.getName().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no volume " + name));
  }
}
