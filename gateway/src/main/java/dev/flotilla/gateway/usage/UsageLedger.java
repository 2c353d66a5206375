package dev.flotilla.gateway.usage;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.jboss.logging.Logger;

/**
 * Records usage events write-ahead and ships them to Kafka.
 *
 * <p>{@link #record(UsageEvent)} appends the event to the {@link UsageSpool} and returns once it is
 * on disk. {@link #record(UsageEvent, Consumer)} returns at once: one writer thread appends
 * whatever has queued up with a single force and then tells each caller, so a request finishing on
 * a transport thread never waits for the disk there. One sender thread reads the spool in order,
 * sends each record keyed by tenant through an idempotent producer, and commits the spool offset
 * only up to the last record Kafka acknowledged, in order. A failure (Kafka unreachable past the
 * delivery timeout, a fatal producer error) closes the producer, rewinds to the committed offset
 * and retries with exponential backoff through a new producer from the factory (which may point at
 * a new bootstrap address). A restarted gateway resends whatever the spool still holds.
 */
public final class UsageLedger implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(UsageLedger.class);
  public static final String TOPIC = "flotilla.usage";
  private static final int BATCH = 512;

  /**
   * Largest event the ledger spools. Events are a few hundred bytes (client strings are bounded in
   * {@link UsageEvent}), so only a bug reaches this; it sits far below what any broker accepts
   * ({@code message.max.bytes} defaults to 1 MiB), so a spooled event never wedges the sender.
   */
  static final int MAX_EVENT_BYTES = 64 << 10;

  private final UsageSpool spool;
  private final Supplier<Producer<String, byte[]>> producers;
  private final String topic;
  private final Duration maxBackoff;
  private final ObjectMapper json;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition appended = lock.newCondition();
  private final Thread sender;
  private final Thread writer;
  private final BlockingQueue<Pending> toWrite = new LinkedBlockingQueue<>();
  private volatile boolean running;
  private final Object writeGate = new Object();
  private boolean closed; // guarded by writeGate: no event is queued behind END
  private volatile long sentTotal;
  private volatile long failures;
  private volatile long refused;

  /**
   * @param producers makes a producer configured by {@link UsageProducerConfig}; called again after
   *     every failure
   */
  public UsageLedger(
      UsageSpool spool,
      Supplier<Producer<String, byte[]>> producers,
      String topic,
      Duration maxBackoff,
      ObjectMapper json) {
    this.spool = spool;
    this.producers = producers;
    this.topic = topic;
    this.maxBackoff = maxBackoff;
    this.json = json;
    this.sender = new Thread(this::sendLoop, "flotilla-usage-sender");
    this.sender.setDaemon(true);
    // The writer runs from the start: events are spooled whether or not Kafka is configured.
    this.writer = new Thread(this::writeLoop, "flotilla-usage-writer");
    this.writer.setDaemon(true);
    this.writer.start();
  }

  /** An event waiting for the writer, and whom to tell once it is on disk. */
  private record Pending(UsageEvent event, Consumer<IOException> whenRecorded) {}

  /** Queued by {@link #close} behind every event accepted before it. */
  private static final Pending END = new Pending(null, null);

  /** Starts shipping spooled events to Kafka. Without it events only accumulate in the spool. */
  public UsageLedger start() {
    running = true;
    sender.start();
    return this;
  }

  /**
   * Durably records one event.
   *
   * @throws IOException when the spool cannot write it; the caller decides how to surface that
   */
  public void record(UsageEvent event) throws IOException {
    spool.append(encode(event));
    signalAppended();
  }

  /**
   * Durably records one event without blocking: {@code whenRecorded} runs on the ledger's writer
   * thread once the event is on disk (with null) or could not be put there (with the exception). It
   * must not block: it delays every event written after it.
   */
  public void record(UsageEvent event, Consumer<IOException> whenRecorded) {
    synchronized (writeGate) {
      if (!closed) {
        toWrite.add(new Pending(event, whenRecorded));
        return;
      }
    }
    whenRecorded.accept(new IOException("the usage ledger is closed"));
  }

  private void writeLoop() {
    List<Pending> batch = new ArrayList<>();
    List<byte[]> payloads = new ArrayList<>();
    boolean ending = false;
    while (!ending) {
      try {
        batch.add(toWrite.take());
      } catch (InterruptedException e) {
        continue; // only close() ends the writer, through END, after every accepted event
      }
      toWrite.drainTo(batch, BATCH - 1);
      ending = batch.removeIf(p -> p == END);
      IOException[] failures = new IOException[batch.size()];
      for (int i = 0; i < batch.size(); i++) {
        try {
          payloads.add(encode(batch.get(i).event()));
        } catch (IOException | RuntimeException e) {
          failures[i] = e instanceof IOException io ? io : new IOException(e);
        }
      }
      IOException written = null;
      try {
        spool.appendAll(payloads);
        signalAppended();
      } catch (IOException | RuntimeException e) {
        written = e instanceof IOException io ? io : new IOException(e);
      }
      for (int i = 0; i < batch.size(); i++) {
        try {
          batch.get(i).whenRecorded().accept(failures[i] != null ? failures[i] : written);
        } catch (RuntimeException e) {
          LOG.errorf(e, "usage ledger: a caller's callback failed");
        }
      }
      batch.clear();
      payloads.clear();
    }
  }

  /** Key length, tenant key, JSON event: what the sender turns back into a Kafka record. */
  private byte[] encode(UsageEvent event) throws IOException {
    byte[] key = event.tenant().getBytes(StandardCharsets.UTF_8);
    byte[] value = json.writeValueAsBytes(event);
    ByteBuffer buf = ByteBuffer.allocate(4 + key.length + value.length);
    buf.putInt(key.length).put(key).put(value);
    if (buf.capacity() > MAX_EVENT_BYTES) {
      throw new IOException("usage event of " + buf.capacity() + " bytes is too large");
    }
    return buf.array();
  }

  private void signalAppended() {
    lock.lock();
    try {
      appended.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Events recorded and not yet acknowledged by Kafka. */
  public long pending() {
    return spool.depth();
  }

  /** Bytes the spool's files hold. */
  public long spoolBytes() {
    return spool.bytes();
  }

  /** The spool's size limit. */
  public long spoolLimitBytes() {
    return spool.maxBytes();
  }

  /** Events Kafka acknowledged since this ledger started. */
  public long sent() {
    return sentTotal;
  }

  /** Send attempts that failed and were rewound. */
  public long failures() {
    return failures;
  }

  /** Spooled records Kafka refused as too large, logged and skipped. */
  public long refused() {
    return refused;
  }

  private void sendLoop() {
    Producer<String, byte[]> producer = null;
    long next = spool.committedOffset();
    long backoffMs = 100;
    while (running) {
      try {
        List<UsageSpool.Entry> batch = spool.read(next, BATCH);
        if (batch.isEmpty()) {
          awaitAppend(next);
          continue;
        }
        if (producer == null) {
          producer = producers.get();
        }
        long acked = send(producer, batch);
        if (acked > spool.committedOffset()) {
          spool.commit(acked);
        }
        if (acked == batch.get(batch.size() - 1).offset() + 1) {
          next = acked;
          backoffMs = 100;
          continue;
        }
        throw new IOException("Kafka did not acknowledge usage record " + acked);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      } catch (Exception e) {
        failures++;
        LOG.warnf(
            "usage ledger: sending to Kafka failed (%s); %d events spooled, retrying in %d ms",
            e.toString(), spool.depth(), backoffMs);
        closeQuietly(producer);
        producer = null;
        next = spool.committedOffset();
        if (!sleep(backoffMs)) {
          break;
        }
        backoffMs = Math.min(backoffMs * 2, maxBackoff.toMillis());
      }
    }
    closeQuietly(producer);
  }

  /** Sends a batch; returns the offset after the last record acknowledged without a gap. */
  private long send(Producer<String, byte[]> producer, List<UsageSpool.Entry> batch)
      throws InterruptedException {
    List<Future<RecordMetadata>> futures = new ArrayList<>(batch.size());
    long acked = batch.get(0).offset();
    try {
      for (UsageSpool.Entry e : batch) {
        ByteBuffer buf = ByteBuffer.wrap(e.payload());
        byte[] key = new byte[buf.getInt()];
        buf.get(key);
        byte[] value = new byte[buf.remaining()];
        buf.get(value);
        futures.add(
            producer.send(
                new ProducerRecord<>(topic, new String(key, StandardCharsets.UTF_8), value)));
      }
    } catch (RuntimeException e) {
      LOG.debugf("usage ledger: send refused: %s", e);
    }
    for (int i = 0; i < futures.size(); i++) {
      try {
        futures.get(i).get();
        acked = batch.get(i).offset() + 1;
        sentTotal++;
      } catch (ExecutionException e) {
        if (e.getCause() instanceof RecordTooLargeException) {
          // Retrying cannot help, and waiting on it would stop every tenant's events behind it.
          refused++;
          acked = batch.get(i).offset() + 1;
          LOG.errorf(
              "usage ledger: Kafka refused spooled record %d (%d bytes) as too large; it is"
                  + " skipped and lost: %s",
              batch.get(i).offset(),
              batch.get(i).payload().length,
              new String(
                  batch.get(i).payload(),
                  0,
                  Math.min(512, batch.get(i).payload().length),
                  StandardCharsets.UTF_8));
          continue;
        }
        LOG.debugf("usage ledger: record %d failed: %s", batch.get(i).offset(), e.getCause());
        break;
      }
    }
    return acked;
  }

  private void awaitAppend(long next) throws InterruptedException {
    lock.lock();
    try {
      if (spool.durableOffset() <= next) {
        appended.await(1, TimeUnit.SECONDS);
      }
    } finally {
      lock.unlock();
    }
  }

  private boolean sleep(long ms) {
    try {
      Thread.sleep(ms);
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static void closeQuietly(Producer<String, byte[]> producer) {
    if (producer != null) {
      try {
        producer.close(Duration.ZERO);
      } catch (RuntimeException e) {
        LOG.debugf("usage ledger: closing producer: %s", e);
      }
    }
  }

  /**
   * Writes every event accepted so far, then stops the writer and the sender at once; spooled
   * events stay on disk for the next start.
   */
  @Override
  public void close() throws IOException {
    close(Duration.ZERO);
  }

  /**
   * Writes every event accepted so far, gives the sender up to {@code drain} to get every spooled
   * event into Kafka, then stops it; what Kafka has not acknowledged by then stays on disk for the
   * next start (this gateway's or, on a shared volume, another's).
   */
  public void close(Duration drain) throws IOException {
    synchronized (writeGate) {
      closed = true;
      toWrite.add(END);
    }
    try {
      writer.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    long deadline = System.nanoTime() + drain.toNanos();
    while (running && spool.depth() > 0 && System.nanoTime() < deadline) {
      if (!sleep(20)) {
        break;
      }
    }
    if (running && spool.depth() > 0) {
      LOG.warnf(
          "usage ledger: stopping with %d events not yet in Kafka; they stay in %s",
          spool.depth(), spool.dir());
    }
    running = false;
    sender.interrupt();
    try {
      sender.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    spool.close();
  }
}
