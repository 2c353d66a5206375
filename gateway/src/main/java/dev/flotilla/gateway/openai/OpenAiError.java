package dev.flotilla.gateway.openai;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.RetryInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;

/**
 * A pipeline status as OpenAI's error response: HTTP status, {@code Retry-After} and the body
 * {@code {"error":{"message","type","param","code"}}}.
 *
 * @param retryAfterMillis from google.rpc.RetryInfo; -1 when the status has none
 */
public record OpenAiError(
    int httpStatus, String type, String code, String param, String message, long retryAfterMillis) {

  public static OpenAiError of(StatusRuntimeException e) {
    Status.Code c = e.getStatus().getCode();
    String message =
        e.getStatus().getDescription() == null ? c.name() : e.getStatus().getDescription();
    String param = null;
    long retryMillis = -1;
    com.google.rpc.Status details = StatusProto.fromThrowable(e);
    if (details != null) {
      for (Any a : details.getDetailsList()) {
        try {
          if (a.is(BadRequest.class) && a.unpack(BadRequest.class).getFieldViolationsCount() > 0) {
            param = openAiParam(a.unpack(BadRequest.class).getFieldViolations(0).getField());
          } else if (a.is(RetryInfo.class)) {
            var d = a.unpack(RetryInfo.class).getRetryDelay();
            retryMillis = d.getSeconds() * 1000 + d.getNanos() / 1_000_000;
          }
        } catch (InvalidProtocolBufferException ignored) {
          // A detail that does not parse adds nothing to the answer.
        }
      }
    }
    return switch (c) {
      case UNAUTHENTICATED ->
          new OpenAiError(401, "authentication_error", "invalid_api_key", null, message, -1);
      case PERMISSION_DENIED ->
          new OpenAiError(403, "permission_error", "permission_denied", null, message, -1);
      case NOT_FOUND ->
          new OpenAiError(404, "not_found_error", "model_not_found", "model", message, -1);
      case INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE ->
          new OpenAiError(400, "invalid_request_error", null, param, message, -1);
      case RESOURCE_EXHAUSTED ->
          new OpenAiError(
              429, "rate_limit_error", "rate_limit_exceeded", null, message, retryMillis);
      case UNAVAILABLE ->
          new OpenAiError(
              503, "service_unavailable_error", "model_unavailable", null, message, retryMillis);
      case DEADLINE_EXCEEDED -> new OpenAiError(504, "timeout_error", "timeout", null, message, -1);
      case ABORTED -> new OpenAiError(502, "server_error", "worker_failed", null, message, -1);
      case CANCELLED -> new OpenAiError(499, "cancelled", "cancelled", null, message, -1);
      default -> new OpenAiError(500, "server_error", null, null, message, -1);
    };
  }

  /** Pipeline field names ({@code sampling.top_p}) as OpenAI parameters ({@code top_p}). */
  static String openAiParam(String field) {
    if (field.startsWith("sampling.")) {
      return field.substring("sampling.".length());
    }
    return field.equals("prompt_token_ids") ? "prompt" : field;
  }

  /** Whole seconds for {@code Retry-After}, rounded up; null when there is no retry hint. */
  public String retryAfterSeconds() {
    return retryAfterMillis < 0
        ? null
        : Long.toString(Math.max(1, (retryAfterMillis + 999) / 1000));
  }

  public ObjectNode body(ObjectMapper json) {
    ObjectNode root = json.createObjectNode();
    ObjectNode error = root.putObject("error");
    error.put("message", message).put("type", type).put("param", param).put("code", code);
    return root;
  }
}
