package dev.flotilla.gateway.limit;

/**
 * A token bucket over an injected clock: {@code capacity} tokens, refilled at {@code perSecond}.
 * The level may go below zero when a settlement charges more than was reserved; the debt is paid
 * back by the refill before anything else is admitted. Not thread-safe.
 */
final class TokenBucket {
  private final double capacity;
  private final double perNano;
  private double level;
  private long last;

  TokenBucket(double capacity, double perSecond, long nowNanos) {
    this.capacity = capacity;
    this.perNano = perSecond / 1e9;
    this.level = capacity;
    this.last = nowNanos;
  }

  double capacity() {
    return capacity;
  }

  double level(long now) {
    refill(now);
    return level;
  }

  /** Nanoseconds until {@code n} tokens are there; 0 when they are there now. */
  long nanosUntil(double n, long now) {
    refill(now);
    double missing = n - level;
    return missing <= 0 ? 0 : (long) Math.ceil(missing / perNano);
  }

  void take(double n, long now) {
    refill(now);
    level -= n;
  }

  void give(double n, long now) {
    refill(now);
    level = Math.min(capacity, level + n);
  }

  /** Starts from another bucket's level (capped), so a limit change neither resets nor refills. */
  void inherit(TokenBucket previous, long now) {
    level = Math.min(capacity, previous.level(now));
  }

  private void refill(long now) {
    if (now > last) {
      level = Math.min(capacity, level + (now - last) * perNano);
      last = now;
    }
  }
}
