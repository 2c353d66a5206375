package dev.flotilla.gateway.service;

import dev.flotilla.gateway.metrics.GatewayMetrics;
import dev.flotilla.gateway.time.Ticker;

/**
 * An admitted request's tokens and times as they happen, into its model's timers, and then into its
 * measured {@link RequestOutcome}. Not thread-safe: the caller holds its run's lock.
 */
final class RequestTally {
  private final Ticker ticker;
  private final GatewayMetrics.ModelMeters meters;
  private final long arrived;

  /** The wait for the first worker; -1 until a worker is picked. */
  private long queuedNanos = -1;

  private long firstTokenAt = -1;
  private long lastTokenAt = -1;
  private int completionTokens;

  /** The prompt length a worker announced with its first tokens; 0 until one does. */
  private int announcedPromptTokens;

  RequestTally(Ticker ticker, GatewayMetrics.ModelMeters meters, long arrived) {
    this.ticker = ticker;
    this.meters = meters;
    this.arrived = arrived;
  }

  /** A worker was picked after {@code queuedNanos}; the first wait is the one billed. */
  void routed(long queuedNanos) {
    if (this.queuedNanos < 0) {
      this.queuedNanos = queuedNanos;
    }
    meters.queueTime(queuedNanos);
  }

  void promptCounted(int promptTokens) {
    announcedPromptTokens = promptTokens;
  }

  /** A chunk with {@code tokens} token ids reached the client. */
  void streamed(int tokens) {
    long now = ticker.nanos();
    if (firstTokenAt < 0) {
      firstTokenAt = now;
      meters.timeToFirstToken(now - arrived);
    } else {
      meters.timeBetweenTokens(now - lastTokenAt);
    }
    lastTokenAt = now;
    completionTokens += tokens;
  }

  int completionTokens() {
    return completionTokens;
  }

  /**
   * {@code outcome} with what the request used. The prompt is the worker's count when it sent one
   * (its final message, else its first tokens: a stream cut after tokens still bills the real
   * prompt), else the gateway's estimate for a request that reached a worker.
   */
  RequestOutcome measure(RequestOutcome outcome, boolean reachedWorker, long promptEstimate) {
    int prompt =
        outcome.promptTokens() > 0
            ? outcome.promptTokens()
            : announcedPromptTokens > 0
                ? announcedPromptTokens
                : reachedWorker ? (int) promptEstimate : 0;
    long ttft = firstTokenAt < 0 ? -1 : (firstTokenAt - arrived) / 1_000_000;
    return outcome.measured(
        prompt,
        completionTokens,
        Math.max(0, queuedNanos) / 1_000_000,
        ttft,
        (ticker.nanos() - arrived) / 1_000_000);
  }
}
