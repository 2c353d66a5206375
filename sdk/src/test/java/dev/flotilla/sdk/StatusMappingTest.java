package dev.flotilla.sdk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.rpc.BadRequest;
import com.google.rpc.QuotaFailure;
import com.google.rpc.ResourceInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each status the gateway documents becomes its own exception type, with its details, on every call
 * kind.
 */
class StatusMappingTest {
  private final TestGateway gateway = TestGateway.inProcess();
  private final FlotillaClient client =
      gateway.client(builder -> builder.retryPolicy(RetryPolicy.disabled()));
  private final CompletionRequest request =
      CompletionRequest.builder().model("m").prompt("p").requestId("r-42").build();

  @AfterEach
  void stop() throws InterruptedException {
    client.close();
    gateway.close();
  }

  static Stream<Arguments> statuses() {
    return Stream.of(
        Arguments.of(Status.Code.UNAUTHENTICATED, AuthenticationException.class),
        Arguments.of(Status.Code.PERMISSION_DENIED, PermissionDeniedException.class),
        Arguments.of(Status.Code.NOT_FOUND, NotFoundException.class),
        Arguments.of(Status.Code.INVALID_ARGUMENT, InvalidRequestException.class),
        Arguments.of(Status.Code.RESOURCE_EXHAUSTED, RateLimitedException.class),
        Arguments.of(Status.Code.UNAVAILABLE, ModelUnavailableException.class),
        Arguments.of(Status.Code.DEADLINE_EXCEEDED, DeadlineExceededException.class),
        Arguments.of(Status.Code.ABORTED, StreamAbortedException.class),
        Arguments.of(Status.Code.INTERNAL, UnexpectedStatusException.class),
        Arguments.of(Status.Code.FAILED_PRECONDITION, UnexpectedStatusException.class));
  }

  @ParameterizedTest
  @MethodSource("statuses")
  void completeMapsStatus(Status.Code code, Class<? extends FlotillaException> type) {
    failEveryCallWith(Replies.error(code, "told by server"));

    FlotillaException thrown = catchThrowableOfType(type, () -> client.complete(request));

    assertThat(thrown.code()).isEqualTo(code);
    assertThat(thrown.statusMessage()).isEqualTo("told by server");
    assertThat(thrown.requestId()).contains("r-42");
    assertThat(thrown)
        .hasMessage(code + ": told by server (request id r-42)")
        .hasCauseInstanceOf(StatusRuntimeException.class);
  }

  @ParameterizedTest
  @MethodSource("statuses")
  void generateMapsStatus(Status.Code code, Class<? extends FlotillaException> type) {
    failEveryCallWith(Replies.error(code, "told by server"));

    try (TokenStream stream = client.generate(request)) {
      FlotillaException thrown = catchThrowableOfType(type, stream::hasNext);
      assertThat(thrown.code()).isEqualTo(code);
      assertThat(thrown.requestId()).contains("r-42");
    }
  }

  @ParameterizedTest
  @MethodSource("statuses")
  void publisherMapsStatus(Status.Code code, Class<? extends FlotillaException> type)
      throws InterruptedException {
    failEveryCallWith(Replies.error(code, "told by server"));
    RecordingSubscriber subscriber = new RecordingSubscriber(Long.MAX_VALUE);

    client.generatePublisher(request).subscribe(subscriber);

    assertThat(subscriber.awaitTermination()).isInstanceOf(type);
    assertThat(subscriber.items()).isEmpty();
  }

  @ParameterizedTest
  @MethodSource("statuses")
  void listModelsMapsStatusWithoutRequestId(
      Status.Code code, Class<? extends FlotillaException> type) {
    failEveryCallWith(Replies.error(code, "told by server"));

    FlotillaException thrown = catchThrowableOfType(type, client::listModels);

    assertThat(thrown.code()).isEqualTo(code);
    assertThat(thrown.requestId()).isEmpty();
    assertThat(thrown).hasMessage(code + ": told by server");
  }

  @Test
  void notFoundNamesTheMissingResource() {
    failEveryCallWith(
        Replies.error(
            Status.Code.NOT_FOUND,
            "no such adapter",
            ResourceInfo.newBuilder()
                .setResourceType("flotilla.dev/LoraAdapter")
                .setResourceName("sql-lora")
                .setDescription("not deployed")
                .build()));

    NotFoundException thrown =
        catchThrowableOfType(NotFoundException.class, () -> client.complete(request));

    assertThat(thrown.resourceType()).isEqualTo("flotilla.dev/LoraAdapter");
    assertThat(thrown.resourceName()).isEqualTo("sql-lora");
  }

  @Test
  void invalidRequestListsTheFieldViolations() {
    failEveryCallWith(
        Replies.error(
            Status.Code.INVALID_ARGUMENT,
            "bad sampling",
            BadRequest.newBuilder()
                .addFieldViolations(
                    BadRequest.FieldViolation.newBuilder()
                        .setField("sampling.top_p")
                        .setDescription("must be in (0, 1]"))
                .addFieldViolations(
                    BadRequest.FieldViolation.newBuilder()
                        .setField("model")
                        .setDescription("required"))
                .build()));

    InvalidRequestException thrown =
        catchThrowableOfType(InvalidRequestException.class, () -> client.complete(request));

    assertThat(thrown.violations())
        .containsExactly(
            new InvalidRequestException.FieldViolation("sampling.top_p", "must be in (0, 1]"),
            new InvalidRequestException.FieldViolation("model", "required"));
  }

  @Test
  void rateLimitedCarriesQuotaViolationsAndRetryDelay() {
    // 90 s is beyond the default 30 s cap, so the client surfaces it instead of waiting.
    failEveryCallWith(
        Replies.error(
            Status.Code.RESOURCE_EXHAUSTED,
            "slow down",
            QuotaFailure.newBuilder()
                .addViolations(
                    QuotaFailure.Violation.newBuilder()
                        .setSubject("tenant:acme")
                        .setDescription("tokens per minute: 10000"))
                .build(),
            Replies.retryAfter(Duration.ofSeconds(90, 500_000_000))));
    RateLimitedException thrown;
    try (FlotillaClient retrying = gateway.client()) {
      thrown = catchThrowableOfType(RateLimitedException.class, () -> retrying.complete(request));
    }

    assertThat(thrown.retryDelay()).contains(Duration.ofSeconds(90, 500_000_000));
    assertThat(thrown.violations())
        .containsExactly(
            new RateLimitedException.QuotaViolation("tenant:acme", "tokens per minute: 10000"));
    assertThat(gateway.service.completeRequests).hasSize(1);
  }

  @Test
  void unavailableCarriesRetryDelay() {
    failEveryCallWith(
        Replies.error(
            Status.Code.UNAVAILABLE,
            "cold start timed out",
            Replies.retryAfter(Duration.ofSeconds(20))));

    ModelUnavailableException thrown =
        catchThrowableOfType(ModelUnavailableException.class, () -> client.complete(request));

    assertThat(thrown.retryDelay()).contains(Duration.ofSeconds(20));
  }

  @Test
  void detailsAreEmptyWhenTheServerSentNone() {
    gateway.service.onComplete =
        (r, responses, attempt) ->
            responses.onError(
                Status.RESOURCE_EXHAUSTED.withDescription("plain").asRuntimeException());

    RateLimitedException thrown =
        catchThrowableOfType(RateLimitedException.class, () -> client.complete(request));

    assertThat(thrown.retryDelay()).isEmpty();
    assertThat(thrown.violations()).isEmpty();
  }

  private void failEveryCallWith(StatusRuntimeException error) {
    gateway.service.onComplete = (r, responses, attempt) -> responses.onError(error);
    gateway.service.onGenerate = (r, responses, attempt) -> responses.onError(error);
    gateway.service.onListModels = (r, responses, attempt) -> responses.onError(error);
  }
}
