package dev.flotilla.gateway.usage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.gateway.TestLogs;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import kafka.server.BrokerServer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The usage ledger against a real KRaft broker in this JVM (one combined broker + controller). The
 * broker is stopped and started again in place: the test kit pre-binds its listener sockets, so the
 * restarted broker listens on the same port and the producer reconnects to the bootstrap address it
 * already has.
 */
class UsageLedgerKafkaIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static KafkaClusterTestKit cluster;
  private static final AtomicInteger TOPICS = new AtomicInteger();

  @TempDir Path spoolDir;
  private final List<AutoCloseable> closeables = new ArrayList<>();

  @BeforeAll
  static void startKafka() throws Exception {
    TestLogs.quiet(
        "kafka", "org.apache.kafka", "state.change.logger", "dev.flotilla.gateway.usage");
    cluster =
        new KafkaClusterTestKit.Builder(
                new TestKitNodes.Builder()
                    .setCombined(true)
                    .setNumBrokerNodes(1)
                    .setNumControllerNodes(1)
                    .build())
            .setConfigProp("auto.create.topics.enable", "false")
            .setConfigProp("offsets.topic.replication.factor", "1")
            .setConfigProp("transaction.state.log.replication.factor", "1")
            .setConfigProp("transaction.state.log.min.isr", "1")
            .build();
    java.io.PrintStream out = System.out;
    System.setOut(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
    try {
      cluster.format(); // prints "Formatting metadata directory ..." to stdout
    } finally {
      System.setOut(out);
    }
    cluster.startup();
    cluster.waitForReadyBrokers();
  }

  @AfterAll
  static void stopKafka() throws Exception {
    cluster.close();
  }

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : closeables) {
      c.close();
    }
  }

  private static String newTopic() throws Exception {
    String topic = "flotilla.usage." + TOPICS.incrementAndGet();
    try (Admin admin = Admin.create(cluster.clientProperties())) {
      admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1))).all().get();
    }
    return topic;
  }

  private static Supplier<Producer<String, byte[]>> producers() {
    return () ->
        new KafkaProducer<>(
            UsageProducerConfig.of(
                cluster.bootstrapServers(), "test-gateway", Duration.ofSeconds(15)));
  }

  private UsageLedger ledger(String topic) throws Exception {
    UsageLedger ledger =
        new UsageLedger(
            UsageSpool.open(spoolDir, 1 << 16), producers(), topic, Duration.ofMillis(500), JSON);
    closeables.add(ledger);
    return ledger;
  }

  private static UsageEvent event(String tenant, int seq) {
    return UsageEvent.of(
        tenant + "-" + seq,
        tenant,
        "default/tiny-llama",
        "",
        10 + seq,
        seq,
        1,
        2,
        3,
        "OK",
        "STOP",
        1_700_000_000_000L + seq,
        "gw-0");
  }

  private static List<UsageEvent> events(int n) {
    List<UsageEvent> out = new ArrayList<>();
    String[] tenants = {"acme", "globex", "initech"};
    for (int i = 0; i < n; i++) {
      out.add(event(tenants[i % tenants.length], i));
    }
    return out;
  }

  /** Everything in the topic, read to its end offsets. */
  private static List<ConsumerRecord<String, byte[]>> consumeAll(String topic) {
    Properties p = new Properties();
    p.putAll(cluster.clientProperties());
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p)) {
      List<TopicPartition> parts =
          consumer.partitionsFor(topic).stream()
              .map(i -> new TopicPartition(topic, i.partition()))
              .toList();
      consumer.assign(parts);
      consumer.seekToBeginning(parts);
      Map<TopicPartition, Long> end = consumer.endOffsets(parts);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () -> {
                consumer.poll(Duration.ofMillis(100)).forEach(out::add);
                return parts.stream().allMatch(tp -> consumer.position(tp) >= end.get(tp));
              });
    }
    return out;
  }

  private static void assertExactlyOnceInTenantOrder(
      List<ConsumerRecord<String, byte[]>> records, List<UsageEvent> expected) throws Exception {
    List<UsageEvent> got = new ArrayList<>();
    for (ConsumerRecord<String, byte[]> r : records) {
      UsageEvent e = JSON.readValue(r.value(), UsageEvent.class);
      assertThat(r.key()).isEqualTo(e.tenant());
      got.add(e);
    }
    assertThat(got).containsExactlyInAnyOrderElementsOf(expected);
    assertThat(byTenant(got)).isEqualTo(byTenant(expected));
  }

  private static Map<String, List<String>> byTenant(List<UsageEvent> events) {
    Map<String, List<String>> out = new HashMap<>();
    for (UsageEvent e : events) {
      out.computeIfAbsent(e.tenant(), t -> new ArrayList<>()).add(e.requestId());
    }
    return out;
  }

  @Test
  void sendsEveryEventOnceKeyedByTenant() throws Exception {
    String topic = newTopic();
    UsageLedger ledger = ledger(topic).start();
    List<UsageEvent> expected = events(30);
    for (UsageEvent e : expected) {
      ledger.record(e);
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> ledger.pending() == 0);
    assertExactlyOnceInTenantOrder(consumeAll(topic), expected);
  }

  @Test
  void eventsRecordedWhileKafkaIsDownAreSentExactlyOnceWhenItReturns() throws Exception {
    String topic = newTopic();
    UsageLedger ledger = ledger(topic).start();
    List<UsageEvent> before = events(3);
    for (UsageEvent e : before) {
      ledger.record(e);
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> ledger.pending() == 0);

    BrokerServer broker = cluster.brokers().values().iterator().next();
    broker.shutdown();
    broker.awaitShutdown();
    List<UsageEvent> during = new ArrayList<>();
    for (int i = 100; i < 140; i++) {
      UsageEvent e = event(i % 2 == 0 ? "acme" : "globex", i);
      ledger.record(e); // returns once the event is on disk, Kafka or not
      during.add(e);
    }
    assertThat(ledger.pending()).isEqualTo(40);
    broker.startup();
    cluster.waitForReadyBrokers();

    await().atMost(Duration.ofSeconds(60)).until(() -> ledger.pending() == 0);
    List<UsageEvent> all = new ArrayList<>(before);
    all.addAll(during);
    assertExactlyOnceInTenantOrder(consumeAll(topic), all);
  }

  @Test
  void aRestartedLedgerResendsItsSpool() throws Exception {
    String topic = newTopic();
    List<UsageEvent> expected = events(12);
    // A gateway that spooled events and stopped before sending any of them.
    try (UsageLedger unsent =
        new UsageLedger(
            UsageSpool.open(spoolDir, 1 << 16),
            () -> {
              throw new IllegalStateException("Kafka unreachable");
            },
            topic,
            Duration.ofMillis(500),
            JSON)) {
      for (UsageEvent e : expected) {
        unsent.record(e);
      }
      assertThat(unsent.pending()).isEqualTo(12);
    }
    UsageLedger restarted = ledger(topic);
    assertThat(restarted.pending()).isEqualTo(12);
    restarted.start();
    await().atMost(Duration.ofSeconds(20)).until(() -> restarted.pending() == 0);
    assertExactlyOnceInTenantOrder(consumeAll(topic), expected);
  }

  @Test
  void aTornTailLeftByACrashIsDroppedAndTheRestIsSent() throws Exception {
    String topic = newTopic();
    List<UsageEvent> expected = events(5);
    try (UsageLedger crashed =
        new UsageLedger(
            UsageSpool.open(spoolDir, 1 << 16),
            () -> {
              throw new IllegalStateException("Kafka unreachable");
            },
            topic,
            Duration.ofMillis(500),
            JSON)) {
      for (UsageEvent e : expected) {
        crashed.record(e);
      }
    }
    Path segment;
    try (var files = java.nio.file.Files.list(spoolDir)) {
      segment =
          files
              .filter(f -> f.getFileName().toString().startsWith("segment-"))
              .sorted()
              .reduce((a, b) -> b)
              .orElseThrow();
    }
    java.nio.file.Files.write(
        segment,
        new byte[] {0, 0, 1, 0, 7, 7, 7, 7, '{', '"'},
        java.nio.file.StandardOpenOption.APPEND);
    UsageLedger restarted = ledger(topic).start();
    await().atMost(Duration.ofSeconds(20)).until(() -> restarted.pending() == 0);
    assertExactlyOnceInTenantOrder(consumeAll(topic), expected);
  }

  @Test
  void oneHugeClientStringIsCutAndEveryTenantsEventsAfterItStillArrive() throws Exception {
    String topic = newTopic();
    UsageLedger ledger = ledger(topic).start();
    // Just under the spool's record limit, over what the producer sends (max.request.size 1 MiB).
    UsageEvent huge =
        UsageEvent.of(
            "r".repeat(1_040_000),
            "acme",
            "",
            "a".repeat(1000),
            0,
            0,
            0,
            -1,
            1,
            "INVALID_ARGUMENT",
            "FINISH_REASON_UNSPECIFIED",
            1_700_000_000_000L,
            "gw-0");
    ledger.record(huge);
    List<UsageEvent> after = events(9);
    for (UsageEvent e : after) {
      ledger.record(e);
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> ledger.pending() == 0);
    List<UsageEvent> all = new ArrayList<>(List.of(huge));
    all.addAll(after);
    assertExactlyOnceInTenantOrder(consumeAll(topic), all);
    assertThat(huge.requestId()).hasSize(UsageEvent.MAX_CLIENT_CHARS);
    assertThat(ledger.refused()).isZero();
  }

  @Test
  void closingWithADrainTimeoutSendsEverySpooledEventBeforeItStops() throws Exception {
    String topic = newTopic();
    UsageLedger ledger =
        new UsageLedger(
            UsageSpool.open(spoolDir, 1 << 16), producers(), topic, Duration.ofMillis(500), JSON);
    List<UsageEvent> expected = events(300);
    for (UsageEvent e : expected) {
      ledger.record(e);
    }
    ledger.start().close(Duration.ofSeconds(20));
    try (UsageSpool left = UsageSpool.open(spoolDir, 1 << 16)) {
      assertThat(left.depth()).as("events left in the spool after a drained stop").isZero();
    }
    assertExactlyOnceInTenantOrder(consumeAll(topic), expected);
  }

  @Test
  void aSpoolNobodyHoldsIsSentByAnotherGatewayAndOneStillHeldIsNot() throws Exception {
    String topic = newTopic();
    SpoolDirectory volume = new SpoolDirectory(spoolDir);
    List<UsageEvent> orphaned = events(20);
    SpoolDirectory.Claim gone = volume.claim("gateway-gone");
    try (SpoolDirectory.Claim busy = volume.claim("gateway-busy");
        SpoolDirectory.Claim own = volume.claim("gateway-here")) {
      try (gone;
          UsageLedger unsent =
              new UsageLedger(
                  UsageSpool.open(gone.dir(), 1 << 16),
                  () -> {
                    throw new IllegalStateException("Kafka unreachable");
                  },
                  topic,
                  Duration.ofMillis(500),
                  JSON)) {
        for (UsageEvent e : orphaned) {
          unsent.record(e);
        }
      }
      try (UsageSpool held = UsageSpool.open(busy.dir(), 1 << 16)) {
        held.append(new byte[] {0, 0, 0, 1, 'x', '{', '}'});
      }
      OrphanSpools orphans =
          new OrphanSpools(
              volume,
              own.dir(),
              "gateway-here",
              1 << 16,
              spool -> new UsageLedger(spool, producers(), topic, Duration.ofMillis(500), JSON),
              Duration.ofSeconds(20));
      assertThat(orphans.drainOnce()).isEqualTo(20);
      assertExactlyOnceInTenantOrder(consumeAll(topic), orphaned);
      assertThat(orphans.drainOnce()).as("nothing is left to send").isZero();
      try (UsageSpool held = UsageSpool.open(busy.dir(), 1 << 16)) {
        assertThat(held.depth()).as("the live gateway's spool is left alone").isEqualTo(1);
      }
    }
  }
}
