package dev.flotilla.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/** The local broker: its own JVM from the Maven jars, the usage topic made, a record in and out. */
class KafkaBrokerIT {
  @Test
  void startsWithTheUsageTopicAndTakesAnIdempotentProducersRecord() throws Exception {
    Path dir = Path.of("target", "local-tests", "KafkaBrokerIT").toAbsolutePath();
    LocalApi.deleteRecursively(dir);
    String classpath =
        Files.readString(Path.of(System.getProperty("flotilla.local.classpath"))).trim();
    try (ProcessSupervisor supervisor = new ProcessSupervisor();
        KafkaBroker broker =
            KafkaBroker.start(
                supervisor,
                classpath,
                dir.resolve("kafka"),
                dir.resolve("kafka.log"),
                PodNetwork.freePort(),
                List.of("flotilla.usage"),
                Duration.ofSeconds(90))) {
      String event = "{\"request\":\"" + UUID.randomUUID() + "\"}";
      Properties producer = new Properties();
      producer.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
      producer.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
      producer.put(ProducerConfig.ACKS_CONFIG, "all");
      try (KafkaProducer<String, String> p =
          new KafkaProducer<>(producer, new StringSerializer(), new StringSerializer())) {
        p.send(new ProducerRecord<>("flotilla.usage", "acme", event)).get();
      }
      Properties consumer = new Properties();
      consumer.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
      consumer.put(ConsumerConfig.GROUP_ID_CONFIG, "kafka-broker-it");
      consumer.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
      try (KafkaConsumer<String, String> c =
          new KafkaConsumer<>(consumer, new StringDeserializer(), new StringDeserializer())) {
        c.subscribe(List.of("flotilla.usage"));
        ConsumerRecord<String, String> received = null;
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (received == null && System.nanoTime() < deadline) {
          for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
            received = r;
          }
        }
        assertThat(received).as("a record from flotilla.usage").isNotNull();
        assertThat(Map.entry(received.key(), received.value())).isEqualTo(Map.entry("acme", event));
      }
      assertThat(ProcessHandle.of(broker.pid()))
          .as("the broker runs in its own JVM")
          .hasValueSatisfying(h -> assertThat(h.pid()).isNotEqualTo(ProcessHandle.current().pid()));
    }
  }
}
