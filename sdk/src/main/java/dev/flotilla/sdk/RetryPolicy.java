package dev.flotilla.sdk;

import java.time.Duration;
import java.util.Objects;

/**
 * When and how often the client retries a failed call by itself.
 *
 * <p>Only failures that a later attempt can fix are retried: {@code UNAVAILABLE} (no worker ready,
 * gateway unreachable) always, and {@code RESOURCE_EXHAUSTED} only when the server said when to
 * retry ({@code google.rpc.RetryInfo}). A server-given delay is honoured exactly; a delay longer
 * than {@link #maxServerDelay()} is not waited for and the failure surfaces instead. Without a
 * server delay the client backs off exponentially with full jitter: before retry {@code n} it waits
 * a uniformly random time in {@code [0, min(maxBackoff, initialBackoff * multiplier^(n-1))]}. A
 * stream that has delivered tokens is never retried, and no retry starts after the call's deadline
 * would have passed. Every attempt carries the same request id.
 */
public final class RetryPolicy {
  private static final RetryPolicy DEFAULTS = builder().build();

  private final int maxAttempts;
  private final Duration initialBackoff;
  private final Duration maxBackoff;
  private final double multiplier;
  private final Duration maxServerDelay;

  private RetryPolicy(Builder builder) {
    this.maxAttempts = builder.maxAttempts;
    this.initialBackoff = builder.initialBackoff;
    this.maxBackoff = builder.maxBackoff;
    this.multiplier = builder.multiplier;
    this.maxServerDelay = builder.maxServerDelay;
  }

  /**
   * The default policy: 4 attempts, backoff from 250 ms doubling up to 10 s, server delays up to 30
   * s.
   *
   * @return the default policy
   */
  public static RetryPolicy defaults() {
    return DEFAULTS;
  }

  /**
   * A policy that never retries.
   *
   * @return a policy with a single attempt
   */
  public static RetryPolicy disabled() {
    return builder().maxAttempts(1).build();
  }

  /**
   * Starts a policy from the defaults.
   *
   * @return a builder holding the default values
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * @return the most attempts of one call, the first included
   */
  public int maxAttempts() {
    return maxAttempts;
  }

  /**
   * @return the backoff ceiling before the first retry
   */
  public Duration initialBackoff() {
    return initialBackoff;
  }

  /**
   * @return the largest backoff ceiling
   */
  public Duration maxBackoff() {
    return maxBackoff;
  }

  /**
   * @return the factor the backoff ceiling grows by per retry
   */
  public double multiplier() {
    return multiplier;
  }

  /**
   * @return the longest server-requested delay the client waits before retrying by itself
   */
  public Duration maxServerDelay() {
    return maxServerDelay;
  }

  @Override
  public String toString() {
    return "RetryPolicy{maxAttempts="
        + maxAttempts
        + ", initialBackoff="
        + initialBackoff
        + ", maxBackoff="
        + maxBackoff
        + ", multiplier="
        + multiplier
        + ", maxServerDelay="
        + maxServerDelay
        + '}';
  }

  /** Builds a {@link RetryPolicy}, starting from the defaults. */
  public static final class Builder {
    private int maxAttempts = 4;
    private Duration initialBackoff = Duration.ofMillis(250);
    private Duration maxBackoff = Duration.ofSeconds(10);
    private double multiplier = 2.0;
    private Duration maxServerDelay = Duration.ofSeconds(30);

    private Builder() {}

    /**
     * Bounds the attempts of one call.
     *
     * @param maxAttempts at least 1; 1 disables retries
     * @return this builder
     */
    public Builder maxAttempts(int maxAttempts) {
      if (maxAttempts < 1) {
        throw new IllegalArgumentException("maxAttempts must be >= 1, was " + maxAttempts);
      }
      this.maxAttempts = maxAttempts;
      return this;
    }

    /**
     * Sets the backoff ceiling before the first retry.
     *
     * @param initialBackoff zero or positive
     * @return this builder
     */
    public Builder initialBackoff(Duration initialBackoff) {
      this.initialBackoff = nonNegative(initialBackoff, "initialBackoff");
      return this;
    }

    /**
     * Caps the backoff ceiling.
     *
     * @param maxBackoff zero or positive
     * @return this builder
     */
    public Builder maxBackoff(Duration maxBackoff) {
      this.maxBackoff = nonNegative(maxBackoff, "maxBackoff");
      return this;
    }

    /**
     * Sets the factor the backoff ceiling grows by per retry.
     *
     * @param multiplier at least 1
     * @return this builder
     */
    public Builder multiplier(double multiplier) {
      if (!(multiplier >= 1.0) || Double.isInfinite(multiplier)) {
        throw new IllegalArgumentException(
            "multiplier must be a finite number >= 1, was " + multiplier);
      }
      this.multiplier = multiplier;
      return this;
    }

    /**
     * Caps the server-requested delay the client waits by itself.
     *
     * @param maxServerDelay zero or positive
     * @return this builder
     */
    public Builder maxServerDelay(Duration maxServerDelay) {
      this.maxServerDelay = nonNegative(maxServerDelay, "maxServerDelay");
      return this;
    }

    /**
     * Builds the policy.
     *
     * @return the immutable policy
     */
    public RetryPolicy build() {
      return new RetryPolicy(this);
    }

    private static Duration nonNegative(Duration value, String name) {
      Objects.requireNonNull(value, name);
      if (value.isNegative()) {
        throw new IllegalArgumentException(name + " must not be negative, was " + value);
      }
      return value;
    }
  }
}
