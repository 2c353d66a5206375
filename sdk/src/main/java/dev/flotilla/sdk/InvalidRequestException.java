package dev.flotilla.sdk;

import io.grpc.Status;
import java.util.List;

/**
 * The server rejected fields of the request (gRPC {@code INVALID_ARGUMENT}); {@link #violations()}
 * lists them as the server's {@code google.rpc.BadRequest} did.
 */
public final class InvalidRequestException extends FlotillaException {
  private final List<FieldViolation> violations;

  /**
   * Creates the exception.
   *
   * @param statusMessage the status description sent by the server, or empty
   * @param requestId the request id, or null for calls without one
   * @param violations the rejected fields; empty when the server sent none
   * @param cause the underlying gRPC exception, or null
   */
  public InvalidRequestException(
      String statusMessage, String requestId, List<FieldViolation> violations, Throwable cause) {
    super(Status.Code.INVALID_ARGUMENT, statusMessage, requestId, cause);
    this.violations = List.copyOf(violations);
  }

  /**
   * @return the rejected fields, in the server's order; empty when the server sent none
   */
  public List<FieldViolation> violations() {
    return violations;
  }

  /**
   * One rejected field.
   *
   * @param field the field's path in the request, such as {@code sampling.top_p}
   * @param description why it was rejected
   */
  public record FieldViolation(String field, String description) {}
}
