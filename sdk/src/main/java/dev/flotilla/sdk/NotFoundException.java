package dev.flotilla.sdk;

import io.grpc.Status;

/**
 * The requested model or adapter does not exist (gRPC {@code NOT_FOUND}); when the server sent
 * {@code google.rpc.ResourceInfo}, it names the missing resource.
 */
public final class NotFoundException extends FlotillaException {
  private final String resourceType;
  private final String resourceName;

  /**
   * Creates the exception.
   *
   * @param statusMessage the status description sent by the server, or empty
   * @param requestId the request id, or null for calls without one
   * @param resourceType the kind of the missing resource, such as "model" or "adapter", or empty
   * @param resourceName the name of the missing resource, or empty
   * @param cause the underlying gRPC exception, or null
   */
  public NotFoundException(
      String statusMessage,
      String requestId,
      String resourceType,
      String resourceName,
      Throwable cause) {
    super(Status.Code.NOT_FOUND, statusMessage, requestId, cause);
    this.resourceType = resourceType == null ? "" : resourceType;
    this.resourceName = resourceName == null ? "" : resourceName;
  }

  /**
   * @return the kind of the missing resource; empty when the server did not say
   */
  public String resourceType() {
    return resourceType;
  }

  /**
   * @return the name of the missing resource; empty when the server did not say
   */
  public String resourceName() {
    return resourceName;
  }
}
