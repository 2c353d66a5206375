package dev.flotilla.sdk;

import io.grpc.Status;

/**
 * A failure whose status has no more specific exception type, such as {@code INTERNAL}, {@code
 * UNIMPLEMENTED} or {@code CANCELLED}.
 */
public final class UnexpectedStatusException extends FlotillaException {
  /**
   * Creates the exception.
   *
   * @param code the status code of the failure
   * @param statusMessage the status description sent by the server, or empty
   * @param requestId the request id, or null for calls without one
   * @param cause the underlying exception, or null
   */
  public UnexpectedStatusException(
      Status.Code code, String statusMessage, String requestId, Throwable cause) {
    super(code, statusMessage, requestId, cause);
  }
}
