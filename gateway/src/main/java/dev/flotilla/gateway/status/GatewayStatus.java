package dev.flotilla.gateway.status;

import com.google.protobuf.Any;
import com.google.protobuf.Duration;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.QuotaFailure;
import com.google.rpc.ResourceInfo;
import com.google.rpc.RetryInfo;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;

/**
 * The gateway's error contract (see {@code flotilla/v1/inference.proto}): a gRPC status with
 * google.rpc details in the trailer. One factory per code so every path says the same thing.
 */
public final class GatewayStatus {
  /** The one message for every authentication failure: it never says which part was wrong. */
  public static final String UNAUTHENTICATED_MESSAGE = "missing or invalid API key";

  private GatewayStatus() {}

  public static StatusRuntimeException unauthenticated() {
    return build(Code.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE);
  }

  public static StatusRuntimeException permissionDenied(String message) {
    return build(Code.PERMISSION_DENIED, message);
  }

  public static StatusRuntimeException notFound(String resourceType, String name, String message) {
    return build(
        Code.NOT_FOUND,
        message,
        ResourceInfo.newBuilder()
            .setResourceType(resourceType)
            .setResourceName(name)
            .setDescription(message)
            .build());
  }

  public static StatusRuntimeException invalidArgument(String field, String description) {
    return build(
        Code.INVALID_ARGUMENT,
        field + ": " + description,
        BadRequest.newBuilder()
            .addFieldViolations(
                BadRequest.FieldViolation.newBuilder().setField(field).setDescription(description))
            .build());
  }

  public static StatusRuntimeException failedPrecondition(String message) {
    return build(Code.FAILED_PRECONDITION, message);
  }

  public static StatusRuntimeException resourceExhausted(
      String subject, String description, long retryAfterNanos) {
    return build(
        Code.RESOURCE_EXHAUSTED,
        description,
        QuotaFailure.newBuilder()
            .addViolations(
                QuotaFailure.Violation.newBuilder().setSubject(subject).setDescription(description))
            .build(),
        retryInfo(retryAfterNanos));
  }

  public static StatusRuntimeException unavailable(String message, long retryAfterNanos) {
    return build(Code.UNAVAILABLE, message, retryInfo(retryAfterNanos));
  }

  public static StatusRuntimeException aborted(String message) {
    return build(Code.ABORTED, message);
  }

  public static RetryInfo retryInfo(long nanos) {
    long n = Math.max(0, nanos);
    return RetryInfo.newBuilder()
        .setRetryDelay(
            Duration.newBuilder()
                .setSeconds(n / 1_000_000_000L)
                .setNanos((int) (n % 1_000_000_000L)))
        .build();
  }

  private static StatusRuntimeException build(
      Code code, String message, com.google.protobuf.Message... details) {
    com.google.rpc.Status.Builder s =
        com.google.rpc.Status.newBuilder().setCode(code.getNumber()).setMessage(message);
    for (com.google.protobuf.Message d : details) {
      s.addDetails(Any.pack(d));
    }
    return StatusProto.toStatusRuntimeException(s.build());
  }
}
