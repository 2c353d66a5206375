package dev.flotilla.gateway.usage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Optional;
import java.util.Properties;
import org.junit.jupiter.api.Test;

class KafkaSecurityTest {
  static final String JAAS =
      "org.apache.kafka.common.security.scram.ScramLoginModule required"
          + " username=\"gateway\" password=\"s3cret\";";

  @Test
  void saslOverTlsSetsProtocolMechanismCredentialsAndAPemTrustStore() {
    KafkaSecurity security =
        new KafkaSecurity(
            "SASL_SSL",
            Optional.of("SCRAM-SHA-512"),
            Optional.of(JAAS),
            Optional.of("/var/run/flotilla/kafka-ca/ca.crt"));

    Properties p = UsageProducerConfig.of("kafka:9093", "gw", Duration.ofSeconds(30), security);

    assertThat(p)
        .containsEntry("security.protocol", "SASL_SSL")
        .containsEntry("sasl.mechanism", "SCRAM-SHA-512")
        .containsEntry("sasl.jaas.config", JAAS)
        .containsEntry("ssl.truststore.type", "PEM")
        .containsEntry("ssl.truststore.location", "/var/run/flotilla/kafka-ca/ca.crt")
        // The ledger's own settings stay as they are.
        .containsEntry("enable.idempotence", true)
        .containsEntry("acks", "all");
  }

  @Test
  void plaintextAddsOnlyTheProtocol() {
    assertThat(KafkaSecurity.PLAINTEXT.properties())
        .containsExactlyEntriesOf(java.util.Map.of("security.protocol", "PLAINTEXT"));
  }

  @Test
  void settingsThatCannotWorkAreRefusedByName() {
    assertThatThrownBy(
            () -> new KafkaSecurity("TLS", Optional.empty(), Optional.empty(), Optional.empty()))
        .hasMessageContaining("Kafka security protocol TLS is none of");
    assertThatThrownBy(
            () ->
                new KafkaSecurity(
                    "SASL_SSL", Optional.of("PLAIN"), Optional.empty(), Optional.empty()))
        .hasMessage("Kafka security protocol SASL_SSL needs a SASL JAAS configuration");
    assertThatThrownBy(
            () ->
                new KafkaSecurity("SSL", Optional.of("PLAIN"), Optional.of(JAAS), Optional.empty()))
        .hasMessageContaining("SASL settings are given but the security protocol is SSL");
    assertThatThrownBy(
            () ->
                new KafkaSecurity(
                    "SASL_PLAINTEXT", Optional.empty(), Optional.of(JAAS), Optional.of("/ca.crt")))
        .hasMessageContaining("does not use TLS");
  }

  @Test
  void theCredentialsNeverReachTheLogs() {
    KafkaSecurity security =
        new KafkaSecurity("SASL_SSL", Optional.of("PLAIN"), Optional.of(JAAS), Optional.empty());
    assertThat(security.toString()).doesNotContain("s3cret").contains("saslJaasConfig=(set)");
  }
}
