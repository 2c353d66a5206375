package dev.flotilla.sdk;

import io.grpc.Status;
import java.util.Objects;
import java.util.Optional;

/**
 * A call to the Flotilla gateway failed. Unchecked, like gRPC's own {@code StatusRuntimeException}.
 *
 * <p>Each gRPC status the gateway documents has its own subclass, so callers can catch exactly the
 * failures they handle; {@link UnexpectedStatusException} covers the rest. Every instance carries
 * the status code, the server's message and, for generation calls, the request id to quote when
 * asking for support.
 */
public abstract sealed class FlotillaException extends RuntimeException
    permits AuthenticationException,
        PermissionDeniedException,
        NotFoundException,
        InvalidRequestException,
        RateLimitedException,
        ModelUnavailableException,
        DeadlineExceededException,
        StreamAbortedException,
        UnexpectedStatusException {

  private final Status.Code code;
  private final String statusMessage;
  private final String requestId;

  /**
   * Creates the exception.
   *
   * @param code the gRPC status code
   * @param statusMessage the status description sent by the server, or empty
   * @param requestId the request id, or null for calls without one
   * @param cause the underlying gRPC exception, or null
   */
  protected FlotillaException(
      Status.Code code, String statusMessage, String requestId, Throwable cause) {
    super(describe(code, statusMessage, requestId), cause);
    this.code = Objects.requireNonNull(code, "code");
    this.statusMessage = statusMessage == null ? "" : statusMessage;
    this.requestId = requestId;
  }

  /**
   * @return the gRPC status code of the failure
   */
  public Status.Code code() {
    return code;
  }

  /**
   * @return the server's description of the failure, without code or request id; may be empty
   */
  public String statusMessage() {
    return statusMessage;
  }

  /**
   * @return the id of the failed request; empty for calls that have none, such as listing models
   */
  public Optional<String> requestId() {
    return Optional.ofNullable(requestId);
  }

  private static String describe(Status.Code code, String statusMessage, String requestId) {
    StringBuilder text = new StringBuilder(code.name());
    if (statusMessage != null && !statusMessage.isEmpty()) {
      text.append(": ").append(statusMessage);
    }
    if (requestId != null) {
      text.append(" (request id ").append(requestId).append(')');
    }
    return text.toString();
  }
}
