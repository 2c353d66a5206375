package dev.flotilla.sdk;

import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The caller's tenant is over one of its limits (gRPC {@code RESOURCE_EXHAUSTED}). The client
 * already retried when the server said when to, within its {@link RetryPolicy}; when this surfaces
 * the caller decides whether to wait {@link #retryDelay()} longer.
 */
public final class RateLimitedException extends FlotillaException {
  private final Duration retryDelay;
  private final List<QuotaViolation> violations;

  /**
   * Creates the exception.
   *
   * @param statusMessage the status description sent by the server, or empty
   * @param requestId the request id, or null for calls without one
   * @param retryDelay when the server suggests retrying ({@code google.rpc.RetryInfo}), or null
   * @param violations the exceeded limits ({@code google.rpc.QuotaFailure}); may be empty
   * @param cause the underlying gRPC exception, or null
   */
  public RateLimitedException(
      String statusMessage,
      String requestId,
      Duration retryDelay,
      List<QuotaViolation> violations,
      Throwable cause) {
    super(Status.Code.RESOURCE_EXHAUSTED, statusMessage, requestId, cause);
    this.retryDelay = retryDelay;
    this.violations = List.copyOf(violations);
  }

  /**
   * @return how long the server asks the caller to wait before retrying; empty when it did not say
   */
  public Optional<Duration> retryDelay() {
    return Optional.ofNullable(retryDelay);
  }

  /**
   * @return the limits that were exceeded; empty when the server did not say
   */
  public List<QuotaViolation> violations() {
    return violations;
  }

  /**
   * One exceeded limit.
   *
   * @param subject what the limit applies to, such as a tenant
   * @param description which limit and by how much
   */
  public record QuotaViolation(String subject, String description) {}
}
