package dev.flotilla.gateway.usage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ledger's non-blocking record path, against a real spool; Kafka is not involved. */
class UsageLedgerTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  private UsageLedger ledger(UsageSpool spool) {
    return new UsageLedger(
        spool,
        () -> {
          throw new AssertionError("not started: no producer is made");
        },
        UsageLedger.TOPIC,
        Duration.ofSeconds(1),
        JSON);
  }

  private static UsageEvent event(String tenant, int seq) {
    return UsageEvent.of(
        tenant + "-" + seq,
        tenant,
        "default/tiny-llama",
        "",
        10,
        seq,
        1,
        2,
        3,
        "OK",
        "STOP",
        1_700_000_000_000L + seq,
        "gw-0");
  }

  /**
   * What a caller heard back: on which thread, whether the event was failed, and what was durable.
   */
  private record Heard(String thread, IOException failure, long durableAtCallback) {}

  private static List<UsageEvent> decode(List<UsageSpool.Entry> entries) throws IOException {
    List<UsageEvent> out = new ArrayList<>();
    for (UsageSpool.Entry e : entries) {
      ByteBuffer buf = ByteBuffer.wrap(e.payload());
      buf.position(4 + buf.getInt());
      byte[] value = new byte[buf.remaining()];
      buf.get(value);
      out.add(JSON.readValue(value, UsageEvent.class));
    }
    return out;
  }

  @Test
  void eachCallerHearsOnTheWritersThreadOnlyOnceItsEventIsOnDisk() throws Exception {
    UsageSpool spool = UsageSpool.open(dir, 1 << 16);
    try (UsageLedger ledger = ledger(spool)) {
      List<Heard> heard = new CopyOnWriteArrayList<>();
      Thread[] callers = new Thread[4];
      for (int t = 0; t < callers.length; t++) {
        String tenant = "tenant" + t;
        callers[t] =
            new Thread(
                () -> {
                  for (int i = 0; i < 100; i++) {
                    ledger.record(
                        event(tenant, i),
                        failure ->
                            heard.add(
                                new Heard(
                                    Thread.currentThread().getName(),
                                    failure,
                                    spool.durableOffset())));
                  }
                },
                "caller-" + t);
        callers[t].start();
      }
      for (Thread t : callers) {
        t.join();
      }
      await().atMost(Duration.ofSeconds(20)).until(() -> heard.size() == 400);
      for (int i = 0; i < heard.size(); i++) {
        Heard h = heard.get(i);
        assertThat(h.failure()).isNull();
        assertThat(h.thread()).isEqualTo("flotilla-usage-writer");
        // Callers are told in the order their events were written: the i-th one to hear
        // finds at least i + 1 events on disk.
        assertThat(h.durableAtCallback()).isGreaterThanOrEqualTo(i + 1);
      }
      List<UsageEvent> spooled = decode(spool.read(0, 1000));
      assertThat(spooled).hasSize(400);
      for (int t = 0; t < callers.length; t++) {
        String tenant = "tenant" + t;
        assertThat(
                spooled.stream()
                    .filter(e -> e.tenant().equals(tenant))
                    .map(UsageEvent::completionTokens))
            .as("events of one caller stay in its order")
            .containsExactlyElementsOf(IntStream.range(0, 100).boxed().toList());
      }
    }
  }

  @Test
  void closeWritesEveryAcceptedEventAndLaterOnesAreRefusedToTheirCaller() throws Exception {
    Outcomes heard = new Outcomes();
    UsageLedger ledger = ledger(UsageSpool.open(dir, 1 << 16));
    for (int i = 0; i < 1000; i++) {
      ledger.record(event("acme", i), heard::add);
    }
    ledger.close();
    assertThat(heard.failures).isEmpty();
    assertThat(heard.ok).hasValue(1000);

    AtomicReference<IOException> refused = new AtomicReference<>();
    ledger.record(event("acme", 1000), refused::set);
    assertThat(refused.get()).hasMessageContaining("closed");

    try (UsageSpool reopened = UsageSpool.open(dir, 1 << 16)) {
      assertThat(decode(reopened.read(0, 2000)))
          .extracting(UsageEvent::completionTokens)
          .containsExactlyElementsOf(IntStream.range(0, 1000).boxed().toList());
    }
  }

  @Test
  void anEventTooLargeForTheSpoolFailsAloneAndTheOthersAreWritten() throws Exception {
    UsageSpool spool = UsageSpool.open(dir, 1 << 22);
    try (UsageLedger ledger = ledger(spool)) {
      Outcomes heard = new Outcomes();
      ledger.record(event("acme", 0), heard::add);
      ledger.record(event("x".repeat(UsageSpool.MAX_RECORD_BYTES), 1), heard::add);
      ledger.record(event("acme", 2), heard::add);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> heard.ok.get() + heard.failures.size() == 3);
      assertThat(heard.ok).hasValue(2);
      assertThat(heard.failures)
          .singleElement()
          .satisfies(e -> assertThat(e).hasMessageContaining("too large"));
      assertThat(decode(spool.read(0, 10)))
          .extracting(UsageEvent::completionTokens)
          .containsExactly(0, 2);
    }
  }

  /** Outcomes as callers heard them. */
  private static final class Outcomes {
    final AtomicInteger ok = new AtomicInteger();
    final ConcurrentLinkedQueue<IOException> failures = new ConcurrentLinkedQueue<>();

    void add(IOException failure) {
      if (failure == null) {
        ok.incrementAndGet();
      } else {
        failures.add(failure);
      }
    }
  }
}
