package dev.flotilla.gateway.route;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The prefix keys this gateway sent a worker lately: the worker holds them from the moment it
 * admits the request, but says so only in its next report, and a burst of requests with a new
 * prefix should meanwhile land where the first one went. A key is forgotten once a report arrives
 * {@link #GRACE_NANOS} after it was sent (by then the report counts it, or the worker dropped it),
 * and the oldest go first beyond {@link #MAX_KEYS}.
 */
final class SentPrefixes implements PrefixHolder {
  /** Longer than a request takes to reach the worker and the worker's report to come back. */
  static final long GRACE_NANOS = 500_000_000L;

  static final int MAX_KEYS = 8192;

  /** Key -> when it was last sent, oldest first. */
  private final LinkedHashMap<Long, Long> sent = new LinkedHashMap<>();

  synchronized void sent(long[] keys, long now) {
    for (long k : keys) {
      sent.remove(k);
      sent.put(k, now);
    }
    Iterator<Map.Entry<Long, Long>> oldest = sent.entrySet().iterator();
    while (sent.size() > MAX_KEYS && oldest.hasNext()) {
      oldest.next();
      oldest.remove();
    }
  }

  /** A report arrived at {@code now}: what it had time to count need not be remembered. */
  synchronized void reported(long now) {
    Iterator<Map.Entry<Long, Long>> oldest = sent.entrySet().iterator();
    while (oldest.hasNext() && now - oldest.next().getValue() >= GRACE_NANOS) {
      oldest.remove();
    }
  }

  @Override
  public synchronized boolean holds(long key) {
    return sent.containsKey(key);
  }
}
