package dev.flotilla.gateway.usage;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.config.SslConfigs;

/**
 * How the usage producer reaches the brokers: TLS, SASL, both or neither. Checked when it is made,
 * so a setting that cannot work stops the gateway at start with a message that names it, instead of
 * leaving events in the spool behind a producer that never connects.
 *
 * @param protocol Kafka's {@code security.protocol}: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
 * @param saslMechanism {@code sasl.mechanism} (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, ...); only with
 *     a SASL protocol
 * @param saslJaasConfig {@code sasl.jaas.config}, the login module line with the credentials;
 *     required with a SASL protocol
 * @param truststore a PEM file of the CA certificates that sign the brokers' certificates; only
 *     with SSL or SASL_SSL. Empty: the JVM's default trust store
 */
public record KafkaSecurity(
    String protocol,
    Optional<String> saslMechanism,
    Optional<String> saslJaasConfig,
    Optional<String> truststore) {
  private static final Set<String> PROTOCOLS =
      Set.of("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL");

  public static final KafkaSecurity PLAINTEXT =
      new KafkaSecurity("PLAINTEXT", Optional.empty(), Optional.empty(), Optional.empty());

  public KafkaSecurity {
    if (!PROTOCOLS.contains(protocol)) {
      throw new IllegalArgumentException(
          "Kafka security protocol " + protocol + " is none of " + PROTOCOLS);
    }
    boolean sasl = protocol.startsWith("SASL_");
    boolean tls = protocol.endsWith("SSL");
    if (!sasl && (saslMechanism.isPresent() || saslJaasConfig.isPresent())) {
      throw new IllegalArgumentException(
          "Kafka SASL settings are given but the security protocol is "
              + protocol
              + "; use SASL_SSL or SASL_PLAINTEXT");
    }
    if (sasl && saslJaasConfig.isEmpty()) {
      throw new IllegalArgumentException(
          "Kafka security protocol " + protocol + " needs a SASL JAAS configuration");
    }
    if (!tls && truststore.isPresent()) {
      throw new IllegalArgumentException(
          "a Kafka trust store is given but the security protocol is "
              + protocol
              + ", which does not use TLS; use SSL or SASL_SSL");
    }
  }

  /** The producer properties these settings add; none for PLAINTEXT. */
  public Map<String, Object> properties() {
    Map<String, Object> p = new LinkedHashMap<>();
    p.put(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, protocol);
    saslMechanism.ifPresent(m -> p.put(SaslConfigs.SASL_MECHANISM, m));
    saslJaasConfig.ifPresent(j -> p.put(SaslConfigs.SASL_JAAS_CONFIG, j));
    truststore.ifPresent(
        file -> {
          p.put(SslConfigs.SSL_TRUSTSTORE_TYPE_CONFIG, "PEM");
          p.put(SslConfigs.SSL_TRUSTSTORE_LOCATION_CONFIG, file);
        });
    return p;
  }

  /** What the logs may say: everything but the JAAS line, which holds the credentials. */
  @Override
  public String toString() {
    return "KafkaSecurity[protocol="
        + protocol
        + ", saslMechanism="
        + saslMechanism.orElse("-")
        + ", saslJaasConfig="
        + (saslJaasConfig.isPresent() ? "(set)" : "-")
        + ", truststore="
        + truststore.orElse("-")
        + "]";
  }
}
