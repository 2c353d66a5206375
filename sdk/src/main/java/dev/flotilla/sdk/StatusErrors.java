package dev.flotilla.sdk;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.rpc.BadRequest;
import com.google.rpc.QuotaFailure;
import com.google.rpc.ResourceInfo;
import com.google.rpc.RetryInfo;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** Turns a failed gRPC call into the typed {@link FlotillaException} for its status and details. */
final class StatusErrors {
  private StatusErrors() {}

  /**
   * @param failure what the gRPC stub threw or reported
   * @param requestId the request id, or null for calls without one
   */
  static FlotillaException toException(Throwable failure, String requestId) {
    if (failure instanceof FlotillaException already) {
      return already;
    }
    Status status = Status.fromThrowable(failure);
    String message = status.getDescription() == null ? "" : status.getDescription();
    // Null when the server sent no google.rpc.Status trailer; every detail is then absent.
    com.google.rpc.Status details = StatusProto.fromThrowable(failure);
    List<Any> anys = details == null ? List.of() : details.getDetailsList();

    return switch (status.getCode()) {
      case UNAUTHENTICATED -> new AuthenticationException(message, requestId, failure);
      case PERMISSION_DENIED -> new PermissionDeniedException(message, requestId, failure);
      case NOT_FOUND -> {
        ResourceInfo resource =
            detail(anys, ResourceInfo.class).orElse(ResourceInfo.getDefaultInstance());
        yield new NotFoundException(
            message, requestId, resource.getResourceType(), resource.getResourceName(), failure);
      }
      case INVALID_ARGUMENT ->
          new InvalidRequestException(
              message,
              requestId,
              detail(anys, BadRequest.class).map(StatusErrors::fieldViolations).orElse(List.of()),
              failure);
      case RESOURCE_EXHAUSTED ->
          new RateLimitedException(
              message,
              requestId,
              retryDelay(anys),
              detail(anys, QuotaFailure.class).map(StatusErrors::quotaViolations).orElse(List.of()),
              failure);
      case UNAVAILABLE ->
          new ModelUnavailableException(message, requestId, retryDelay(anys), failure);
      case DEADLINE_EXCEEDED -> new DeadlineExceededException(message, requestId, failure);
      case ABORTED -> new StreamAbortedException(Status.Code.ABORTED, message, requestId, failure);
      default -> new UnexpectedStatusException(status.getCode(), message, requestId, failure);
    };
  }

  /**
   * The failure of a stream that had already delivered tokens: never retried, always a {@link
   * StreamAbortedException} keeping the original status and typed exception.
   */
  static StreamAbortedException afterTokensDelivered(FlotillaException failure) {
    if (failure instanceof StreamAbortedException aborted) {
      return aborted;
    }
    return new StreamAbortedException(
        failure.code(), failure.statusMessage(), failure.requestId().orElse(null), failure);
  }

  private static Duration retryDelay(List<Any> anys) {
    return detail(anys, RetryInfo.class)
        .filter(RetryInfo::hasRetryDelay)
        .map(
            info ->
                Duration.ofSeconds(
                    info.getRetryDelay().getSeconds(), info.getRetryDelay().getNanos()))
        .filter(delay -> !delay.isNegative())
        .orElse(null);
  }

  private static List<InvalidRequestException.FieldViolation> fieldViolations(
      BadRequest badRequest) {
    return badRequest.getFieldViolationsList().stream()
        .map(v -> new InvalidRequestException.FieldViolation(v.getField(), v.getDescription()))
        .toList();
  }

  private static List<RateLimitedException.QuotaViolation> quotaViolations(
      QuotaFailure quotaFailure) {
    return quotaFailure.getViolationsList().stream()
        .map(v -> new RateLimitedException.QuotaViolation(v.getSubject(), v.getDescription()))
        .toList();
  }

  private static <T extends Message> Optional<T> detail(List<Any> anys, Class<T> type) {
    for (Any any : anys) {
      if (any.is(type)) {
        try {
          return Optional.of(any.unpack(type));
        } catch (InvalidProtocolBufferException malformed) {
          // A detail we cannot parse is no worse than one the server did not send.
          return Optional.empty();
        }
      }
    }
    return Optional.empty();
  }
}
