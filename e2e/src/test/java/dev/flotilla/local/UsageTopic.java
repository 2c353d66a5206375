package dev.flotilla.local;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;

/** Reads topic {@code flotilla.usage} from its beginning, as a billing consumer would. */
final class UsageTopic implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final KafkaConsumer<String, String> consumer;
  private final List<JsonNode> events = new ArrayList<>();

  UsageTopic(String bootstrapServers) {
    Properties config = new Properties();
    config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    config.put(ConsumerConfig.GROUP_ID_CONFIG, "e2e-" + UUID.randomUUID());
    config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    consumer = new KafkaConsumer<>(config, new StringDeserializer(), new StringDeserializer());
    consumer.subscribe(List.of("flotilla.usage"));
  }

  /** Polls once more and returns every event read so far, in topic order. */
  List<JsonNode> poll() throws IOException {
    for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
      JsonNode event = JSON.readTree(r.value());
      if (!event.path("tenant").asText().equals(r.key())) {
        throw new AssertionError(
            "record key " + r.key() + " is not the event's tenant: " + r.value());
      }
      events.add(event);
    }
    return List.copyOf(events);
  }

  /** Every event read so far, by request id. */
  Map<String, List<JsonNode>> byRequestId() {
    return events.stream().collect(Collectors.groupingBy(e -> e.path("requestId").asText()));
  }

  @Override
  public void close() {
    consumer.close(Duration.ofSeconds(2));
  }
}
