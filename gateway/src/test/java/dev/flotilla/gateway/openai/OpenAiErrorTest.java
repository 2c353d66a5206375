package dev.flotilla.gateway.openai;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.gateway.status.GatewayStatus;
import io.grpc.Status;
import org.junit.jupiter.api.Test;

class OpenAiErrorTest {
  @Test
  void statusesMapToOpenAiStatusCodesAndTypes() {
    assertThat(OpenAiError.of(GatewayStatus.unauthenticated()).httpStatus()).isEqualTo(401);
    assertThat(OpenAiError.of(GatewayStatus.permissionDenied("no")).httpStatus()).isEqualTo(403);
    assertThat(OpenAiError.of(GatewayStatus.notFound("t", "n", "no")).httpStatus()).isEqualTo(404);
    assertThat(OpenAiError.of(Status.DEADLINE_EXCEEDED.asRuntimeException()).httpStatus())
        .isEqualTo(504);
    assertThat(OpenAiError.of(GatewayStatus.aborted("worker died")).httpStatus()).isEqualTo(502);
    assertThat(OpenAiError.of(Status.INTERNAL.asRuntimeException()).type())
        .isEqualTo("server_error");
  }

  @Test
  void retryInfoBecomesRetryAfterRoundedUp() {
    OpenAiError limited =
        OpenAiError.of(GatewayStatus.resourceExhausted("tenant:a", "over", 1_200_000_000L));
    assertThat(limited.httpStatus()).isEqualTo(429);
    assertThat(limited.retryAfterMillis()).isEqualTo(1200);
    assertThat(limited.retryAfterSeconds()).isEqualTo("2");
    OpenAiError cold = OpenAiError.of(GatewayStatus.unavailable("cold", 5_000_000_000L));
    assertThat(cold.httpStatus()).isEqualTo(503);
    assertThat(cold.retryAfterSeconds()).isEqualTo("5");
    assertThat(OpenAiError.of(GatewayStatus.unauthenticated()).retryAfterSeconds()).isNull();
  }

  @Test
  void theBodyHasOpenAisFourFields() {
    var body =
        OpenAiError.of(GatewayStatus.invalidArgument("sampling.top_p", "bad"))
            .body(new ObjectMapper());
    assertThat(body.toString())
        .isEqualTo(
            "{\"error\":{\"message\":\"sampling.top_p: bad\","
                + "\"type\":\"invalid_request_error\",\"param\":\"top_p\",\"code\":null}}");
  }
}
