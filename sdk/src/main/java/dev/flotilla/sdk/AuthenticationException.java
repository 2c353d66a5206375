package dev.flotilla.sdk;

import io.grpc.Status;

/**
 * The API key is missing or unknown (gRPC {@code UNAUTHENTICATED}); the gateway never says which.
 */
public final class AuthenticationException extends FlotillaException {
  /**
   * Creates the exception.
   *
   * @param statusMessage the status description sent by the server, or empty
   * @param requestId the request id, or null for calls without one
   * @param cause the underlying gRPC exception, or null
   */
  public AuthenticationException(String statusMessage, String requestId, Throwable cause) {
    super(Status.Code.UNAUTHENTICATED, statusMessage, requestId, cause);
  }
}
