package dev.flotilla.sdk;

import io.grpc.Status;

/** The call's deadline passed before it finished (gRPC {@code DEADLINE_EXCEEDED}). */
public final class DeadlineExceededException extends FlotillaException {
  /**
   * Creates the exception.
   *
   * @param statusMessage the status description sent by the server, or empty
   * @param requestId the request id, or null for calls without one
   * @param cause the underlying gRPC exception, or null
   */
  public DeadlineExceededException(String statusMessage, String requestId, Throwable cause) {
    super(Status.Code.DEADLINE_EXCEEDED, statusMessage, requestId, cause);
  }
}
