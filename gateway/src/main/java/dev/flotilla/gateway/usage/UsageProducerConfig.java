package dev.flotilla.gateway.usage;

import java.time.Duration;
import java.util.Properties;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** The producer settings the ledger relies on: idempotent, fully acknowledged, ordered. */
public final class UsageProducerConfig {
  private UsageProducerConfig() {}

  /**
   * @param deliveryTimeout how long the producer itself retries one record before the ledger
   *     rewinds to the spool and starts a new producer
   */
  public static Properties of(String bootstrapServers, String clientId, Duration deliveryTimeout) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    p.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    // Idempotence keeps per-partition order across retries with up to 5 requests in flight.
    p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5);
    p.put(ProducerConfig.RETRIES_CONFIG, Integer.MAX_VALUE);
    p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
    long delivery = deliveryTimeout.toMillis();
    long request = Math.max(1000, Math.min(30_000, delivery / 3));
    p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) request);
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) Math.max(delivery, request + 5));
    // send() blocks for metadata while Kafka is unreachable; bounded so the sender rewinds.
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, delivery);
    p.put(ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 1000);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    return p;
  }

  /** {@link #of} over the connection {@code security} describes (TLS, SASL). */
  public static Properties of(
      String bootstrapServers, String clientId, Duration deliveryTimeout, KafkaSecurity security) {
    Properties p = of(bootstrapServers, clientId, deliveryTimeout);
    p.putAll(security.properties());
    return p;
  }
}
