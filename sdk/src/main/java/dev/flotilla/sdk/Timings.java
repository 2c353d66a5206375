package dev.flotilla.sdk;

import java.time.Duration;
import java.util.Objects;

/**
 * Where a request spent its time, measured by the gateway.
 *
 * @param queue time held for a cold model and waiting in the gateway's fair queue
 * @param timeToFirstToken time from arrival to the first generated token
 * @param total time from arrival to the last token
 */
public record Timings(Duration queue, Duration timeToFirstToken, Duration total) {
  /**
   * Creates the timings.
   *
   * @param queue time held and queued in the gateway
   * @param timeToFirstToken time from arrival to the first token
   * @param total time from arrival to the last token
   */
  public Timings {
    Objects.requireNonNull(queue, "queue");
    Objects.requireNonNull(timeToFirstToken, "timeToFirstToken");
    Objects.requireNonNull(total, "total");
  }
}
