package dev.flotilla.sdk;

import io.grpc.Status;

/**
 * A streamed generation failed after tokens had been delivered, so it was not retried: a retry
 * could repeat or contradict text the caller already has. {@link #code()} is {@code ABORTED} when
 * the gateway reported a failed worker, otherwise the status of the failure; {@link #getCause()} is
 * then the typed exception the failure would have been before the first token.
 */
public final class StreamAbortedException extends FlotillaException {
  /**
   * Creates the exception.
   *
   * @param code the status code of the failure
   * @param statusMessage the status description sent by the server, or empty
   * @param requestId the request id, or null for calls without one
   * @param cause the underlying exception, or null
   */
  public StreamAbortedException(
      Status.Code code, String statusMessage, String requestId, Throwable cause) {
    super(code, statusMessage, requestId, cause);
  }
}
