package dev.flotilla.operator.autoscaler;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * The demand reports of one model, per gateway, over time. Each gateway's samples are averaged over
 * a window and the averages summed: two gateways each carrying 4 requests are 8 requests. A gateway
 * that stops reporting drops out after the expiry. Not thread-safe: {@link DemandStore} guards it.
 */
public final class DemandWindow {
  /** Upper bound on the samples kept per gateway, whatever the windows (a gateway gone mad). */
  static final int MAX_SAMPLES = 4096;

  private record Sample(Instant at, double concurrency, int held) {}

  private final Map<String, Deque<Sample>> byGateway = new HashMap<>();

  public void record(String gateway, Instant at, double concurrency, int held) {
    Deque<Sample> samples = byGateway.computeIfAbsent(gateway, g -> new ArrayDeque<>());
    samples.addLast(new Sample(at, concurrency, held));
    while (samples.size() > MAX_SAMPLES) {
      samples.removeFirst();
    }
  }

  /**
   * Drops samples older than {@code retention} and gateways silent for longer than {@code expiry}.
   */
  public void prune(Instant now, Duration retention, Duration expiry) {
    Iterator<Map.Entry<String, Deque<Sample>>> it = byGateway.entrySet().iterator();
    while (it.hasNext()) {
      Deque<Sample> samples = it.next().getValue();
      if (samples.isEmpty() || samples.getLast().at().isBefore(now.minus(expiry))) {
        it.remove();
        continue;
      }
      while (samples.size() > 1 && samples.getFirst().at().isBefore(now.minus(retention))) {
        samples.removeFirst();
      }
    }
  }

  public void drop(String gateway) {
    byGateway.remove(gateway);
  }

  public boolean isEmpty() {
    return byGateway.isEmpty();
  }

  public DemandSnapshot snapshot(
      Instant now, Duration stableWindow, Duration panicWindow, Duration expiry) {
    prune(now, stableWindow.compareTo(panicWindow) >= 0 ? stableWindow : panicWindow, expiry);
    if (byGateway.isEmpty()) {
      return DemandSnapshot.NONE;
    }
    double stable = 0;
    double panic = 0;
    double latest = 0;
    int held = 0;
    for (Deque<Sample> samples : byGateway.values()) {
      stable += average(samples, now.minus(stableWindow));
      panic += average(samples, now.minus(panicWindow));
      latest += samples.getLast().concurrency();
      held += samples.getLast().held();
    }
    return DemandSnapshot.of(stable, panic, latest, held);
  }

  /** Mean of the samples since {@code from}; the latest sample alone when none is that recent. */
  private static double average(Deque<Sample> samples, Instant from) {
    double sum = 0;
    int n = 0;
    for (Iterator<Sample> it = samples.descendingIterator(); it.hasNext(); ) {
      Sample s = it.next();
      if (s.at().isBefore(from)) {
        break;
      }
      sum += s.concurrency();
      n++;
    }
    return n == 0 ? samples.getLast().concurrency() : sum / n;
  }
}
