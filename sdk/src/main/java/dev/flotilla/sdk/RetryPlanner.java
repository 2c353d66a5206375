package dev.flotilla.sdk;

import java.time.Duration;
import java.util.Optional;
import java.util.function.DoubleSupplier;

/**
 * Decides whether a failed attempt is retried and after how long, following a {@link RetryPolicy}.
 * Pure apart from the injected random source, so the decision and the jitter bounds are testable
 * without waiting.
 */
final class RetryPlanner {
  private final RetryPolicy policy;
  private final DoubleSupplier uniform;

  /**
   * @param uniform source of random numbers in [0, 1) for the jitter
   */
  RetryPlanner(RetryPolicy policy, DoubleSupplier uniform) {
    this.policy = policy;
    this.uniform = uniform;
  }

  /**
   * @param attemptsMade attempts of this call so far, the failed one included (so at least 1)
   * @param failure why the last attempt failed
   * @param timeLeft time until the call's deadline
   * @return the delay before the next attempt, or empty when the failure should surface
   */
  Optional<Duration> delayBeforeRetry(
      int attemptsMade, FlotillaException failure, Duration timeLeft) {
    if (attemptsMade >= policy.maxAttempts()) {
      return Optional.empty();
    }
    Optional<Duration> delay;
    if (failure instanceof ModelUnavailableException unavailable) {
      delay =
          unavailable
              .retryDelay()
              .map(this::honoured)
              .orElseGet(() -> Optional.of(backoff(attemptsMade, uniform.getAsDouble())));
    } else if (failure instanceof RateLimitedException limited) {
      // Without RetryInfo a quota failure says nothing about when capacity returns.
      delay = limited.retryDelay().flatMap(this::honoured);
    } else {
      delay = Optional.empty();
    }
    // A retry that cannot start before the deadline would only turn a clear error into
    // DEADLINE_EXCEEDED.
    return delay.filter(d -> d.compareTo(timeLeft) < 0);
  }

  /**
   * Full jitter: a uniformly random point below the exponential ceiling.
   *
   * @param retry 1 for the first retry, 2 for the second, ...
   * @param uniform a number in [0, 1)
   */
  Duration backoff(int retry, double uniform) {
    long ceilingNanos = ceiling(retry).toNanos();
    return Duration.ofNanos((long) (ceilingNanos * uniform));
  }

  /**
   * The upper bound of the backoff before retry {@code retry}: {@code min(max, initial *
   * multiplier^(retry-1))}.
   */
  Duration ceiling(int retry) {
    if (retry < 1) {
      throw new IllegalArgumentException("retry must be >= 1, was " + retry);
    }
    double nanos = policy.initialBackoff().toNanos() * Math.pow(policy.multiplier(), retry - 1);
    long capNanos = policy.maxBackoff().toNanos();
    // Comparing as doubles keeps a huge exponent from overflowing the long.
    return Duration.ofNanos(nanos >= capNanos ? capNanos : (long) nanos);
  }

  private Optional<Duration> honoured(Duration serverDelay) {
    return serverDelay.compareTo(policy.maxServerDelay()) <= 0
        ? Optional.of(serverDelay)
        : Optional.empty();
  }
}
