package dev.flotilla.sdk;

import io.grpc.Status;

/**
 * The caller's tenant may not use the requested model or adapter (gRPC {@code PERMISSION_DENIED}).
 */
public final class PermissionDeniedException extends FlotillaException {
  /**
   * Creates the exception.
   *
   * @param statusMessage the status description sent by the server, or empty
   * @param requestId the request id, or null for calls without one
   * @param cause the underlying gRPC exception, or null
   */
  public PermissionDeniedException(String statusMessage, String requestId, Throwable cause) {
    super(Status.Code.PERMISSION_DENIED, statusMessage, requestId, cause);
  }
}
