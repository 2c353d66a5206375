package dev.flotilla.sdk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.HeldProgress;
import dev.flotilla.api.v1.ListModelsResponse;
import dev.flotilla.api.v1.ModelInfo;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Retries go through the real client against the fake gateway, with zero backoff so nothing waits.
 */
class RetryTest {
  private final TestGateway gateway = TestGateway.inProcess();
  private final FlotillaClient client = gateway.client(); // 4 attempts, immediate
  private final CompletionRequest request =
      CompletionRequest.builder().model("m").prompt("p").build();

  @AfterEach
  void stop() throws InterruptedException {
    client.close();
    gateway.close();
  }

  @Test
  void completeRetriesUnavailableWithTheSameRequestIdUntilItSucceeds() {
    gateway.service.onComplete =
        (r, responses, attempt) -> {
          if (attempt <= 3) {
            responses.onError(Replies.error(Status.Code.UNAVAILABLE, "no worker yet"));
            return;
          }
          responses.onNext(Replies.completion(r.getRequestId(), "finally"));
          responses.onCompleted();
        };

    CompletionResult result = client.complete(request);

    assertThat(result.text()).isEqualTo("finally");
    assertThat(gateway.service.completeRequests)
        .hasSize(4)
        .extracting(GenerateRequest::getRequestId)
        .containsOnly(request.requestId());
  }

  @Test
  void attemptsAreBounded() {
    gateway.service.onComplete =
        (r, responses, attempt) ->
            responses.onError(Replies.error(Status.Code.UNAVAILABLE, "still cold"));

    assertThatThrownBy(() -> client.complete(request))
        .isInstanceOf(ModelUnavailableException.class);

    assertThat(gateway.service.completeRequests)
        .hasSize(TestGateway.IMMEDIATE_RETRIES.maxAttempts());
  }

  @Test
  void rateLimitIsRetriedWhenTheServerSaysWhen() {
    gateway.service.onComplete =
        (r, responses, attempt) -> {
          if (attempt == 1) {
            responses.onError(
                Replies.error(
                    Status.Code.RESOURCE_EXHAUSTED,
                    "over limit",
                    Replies.retryAfter(Duration.ofMillis(1))));
            return;
          }
          responses.onNext(Replies.completion(r.getRequestId(), "ok"));
          responses.onCompleted();
        };

    assertThat(client.complete(request).text()).isEqualTo("ok");
    assertThat(gateway.service.completeRequests).hasSize(2);
  }

  @Test
  void rateLimitWithoutRetryInfoIsNotRetried() {
    gateway.service.onComplete =
        (r, responses, attempt) ->
            responses.onError(Replies.error(Status.Code.RESOURCE_EXHAUSTED, "over limit"));

    assertThatThrownBy(() -> client.complete(request)).isInstanceOf(RateLimitedException.class);
    assertThat(gateway.service.completeRequests).hasSize(1);
  }

  @Test
  void otherFailuresAreNotRetried() {
    for (Status.Code code :
        List.of(
            Status.Code.INTERNAL,
            Status.Code.INVALID_ARGUMENT,
            Status.Code.ABORTED,
            Status.Code.UNAUTHENTICATED,
            Status.Code.DEADLINE_EXCEEDED)) {
      gateway.service.completeRequests.clear();
      gateway.service.onComplete =
          (r, responses, attempt) -> responses.onError(Replies.error(code, "no"));

      assertThatThrownBy(() -> client.complete(request)).isInstanceOf(FlotillaException.class);
      assertThat(gateway.service.completeRequests).as("%s", code).hasSize(1);
    }
  }

  @Test
  void noRetryWhenTheServerDelayWouldPassTheDeadline() {
    gateway.service.onComplete =
        (r, responses, attempt) ->
            responses.onError(
                Replies.error(
                    Status.Code.UNAVAILABLE, "cold", Replies.retryAfter(Duration.ofSeconds(20))));
    CompletionRequest shortDeadline =
        CompletionRequest.builder().model("m").prompt("p").deadline(Duration.ofSeconds(10)).build();

    ModelUnavailableException thrown =
        catchThrowableOfType(ModelUnavailableException.class, () -> client.complete(shortDeadline));

    assertThat(thrown.retryDelay()).contains(Duration.ofSeconds(20));
    assertThat(gateway.service.completeRequests).hasSize(1);
  }

  @Test
  void listModelsRetriesUnavailable() {
    gateway.service.onListModels =
        (r, responses, attempt) -> {
          if (attempt == 1) {
            responses.onError(Replies.error(Status.Code.UNAVAILABLE, "gateway restarting"));
            return;
          }
          responses.onNext(
              ListModelsResponse.newBuilder()
                  .addModels(ModelInfo.newBuilder().setName("m"))
                  .build());
          responses.onCompleted();
        };

    assertThat(client.listModels()).extracting(ModelDescription::name).containsExactly("m");
    assertThat(gateway.service.listModelsCalls).hasValue(2);
  }

  @Test
  void streamIsRetriedWhileNoTokenWasDelivered() {
    gateway.service.onGenerate =
        (r, responses, attempt) -> {
          // Progress is not output: a failure after it is still safe to retry.
          responses.onNext(
              Replies.progress(HeldProgress.Phase.WAITING_FOR_WORKER, 100L * attempt, 0));
          if (attempt <= 2) {
            responses.onError(Replies.error(Status.Code.UNAVAILABLE, "worker lost while loading"));
            return;
          }
          responses.onNext(Replies.tokens("done"));
          responses.onNext(Replies.finalMessage(r.getRequestId()));
          responses.onCompleted();
        };

    List<StreamEvent> events = new ArrayList<>();
    try (TokenStream stream = client.generate(request)) {
      stream.forEach(events::add);
    }

    assertThat(events)
        .filteredOn(StreamEvent.Tokens.class::isInstance)
        .containsExactly(new StreamEvent.Tokens("done", List.of(), List.of()));
    assertThat(events).last().isInstanceOf(StreamEvent.Finished.class);
    assertThat(gateway.service.generateRequests)
        .hasSize(3)
        .extracting(GenerateRequest::getRequestId)
        .containsOnly(request.requestId());
  }

  @Test
  void streamIsNeverRetriedAfterTheFirstToken() {
    gateway.service.onGenerate =
        (r, responses, attempt) -> {
          responses.onNext(Replies.tokens("partial"));
          responses.onError(Replies.error(Status.Code.UNAVAILABLE, "worker died"));
        };

    List<StreamEvent> events = new ArrayList<>();
    StreamAbortedException thrown;
    try (TokenStream stream = client.generate(request)) {
      thrown =
          catchThrowableOfType(
              StreamAbortedException.class, () -> stream.forEachRemaining(events::add));
    }

    assertThat(events).containsExactly(new StreamEvent.Tokens("partial", List.of(), List.of()));
    assertThat(thrown.code()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(thrown.statusMessage()).isEqualTo("worker died");
    assertThat(thrown.requestId()).contains(request.requestId());
    assertThat(thrown).hasCauseInstanceOf(ModelUnavailableException.class);
    assertThat(gateway.service.generateRequests).hasSize(1);
  }

  @Test
  void publisherIsNeverRetriedAfterTheFirstToken() throws InterruptedException {
    gateway.service.onGenerate =
        (r, responses, attempt) -> {
          responses.onNext(Replies.tokens("partial"));
          responses.onError(Replies.error(Status.Code.UNAVAILABLE, "worker died"));
        };
    RecordingSubscriber subscriber = new RecordingSubscriber(Long.MAX_VALUE);

    client.generatePublisher(request).subscribe(subscriber);

    assertThat(subscriber.awaitTermination())
        .isInstanceOf(StreamAbortedException.class)
        .hasCauseInstanceOf(ModelUnavailableException.class);
    assertThat(subscriber.items())
        .containsExactly(new StreamEvent.Tokens("partial", List.of(), List.of()));
    assertThat(gateway.service.generateRequests).hasSize(1);
  }

  @Test
  void publisherRetriesBeforeTheFirstToken() throws InterruptedException {
    gateway.service.onGenerate =
        (r, responses, attempt) -> {
          if (attempt == 1) {
            responses.onError(Replies.error(Status.Code.UNAVAILABLE, "no worker"));
            return;
          }
          responses.onNext(Replies.tokens("ok"));
          responses.onCompleted();
        };
    RecordingSubscriber subscriber = new RecordingSubscriber(Long.MAX_VALUE);

    client.generatePublisher(request).subscribe(subscriber);

    assertThat(subscriber.awaitTermination()).isNull();
    assertThat(subscriber.items())
        .containsExactly(new StreamEvent.Tokens("ok", List.of(), List.of()));
    assertThat(gateway.service.generateRequests)
        .hasSize(2)
        .extracting(GenerateRequest::getRequestId)
        .containsOnly(request.requestId());
  }
}
