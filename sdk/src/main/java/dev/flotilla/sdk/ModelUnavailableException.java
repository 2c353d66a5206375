package dev.flotilla.sdk;

import io.grpc.Status;
import java.time.Duration;
import java.util.Optional;

/**
 * No worker could serve the request (gRPC {@code UNAVAILABLE}), typically because a model scaled to
 * zero did not become ready within its cold-start timeout, or the gateway could not be reached. The
 * client retries these within its {@link RetryPolicy} before surfacing one.
 */
public final class ModelUnavailableException extends FlotillaException {
  private final Duration retryDelay;

  /**
   * Creates the exception.
   *
   * @param statusMessage the status description sent by the server, or empty
   * @param requestId the request id, or null for calls without one
   * @param retryDelay when the server suggests retrying ({@code google.rpc.RetryInfo}), or null
   * @param cause the underlying gRPC exception, or null
   */
  public ModelUnavailableException(
      String statusMessage, String requestId, Duration retryDelay, Throwable cause) {
    super(Status.Code.UNAVAILABLE, statusMessage, requestId, cause);
    this.retryDelay = retryDelay;
  }

  /**
   * @return how long the server asks the caller to wait before retrying; empty when it did not say
   */
  public Optional<Duration> retryDelay() {
    return Optional.ofNullable(retryDelay);
  }
}
