package dev.flotilla.sdk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.grpc.Status;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A server that never answers: the call ends only through its deadline. That no deadline failure is
 * retried is {@link RetryPlannerTest}'s claim; a retry after the deadline could not reach the
 * server anyway.
 */
class DeadlineTest {
  private static final Duration SHORT = Duration.ofMillis(200);

  private final TestGateway gateway = TestGateway.inProcess();
  private final FlotillaClient client = gateway.client();

  @AfterEach
  void stop() throws InterruptedException {
    client.close();
    gateway.close();
  }

  @Test
  void completeFailsWithDeadlineExceeded() {
    gateway.service.onComplete = (request, responses, attempt) -> {};
    CompletionRequest request =
        CompletionRequest.builder().model("m").prompt("p").deadline(SHORT).build();

    DeadlineExceededException thrown =
        catchThrowableOfType(DeadlineExceededException.class, () -> client.complete(request));

    assertThat(thrown.code()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    assertThat(thrown.requestId()).contains(request.requestId());
  }

  @Test
  void streamFailsWithDeadlineExceeded() {
    gateway.service.onGenerate = (request, responses, attempt) -> {};
    CompletionRequest request =
        CompletionRequest.builder().model("m").prompt("p").deadline(SHORT).build();

    try (TokenStream stream = client.generate(request)) {
      DeadlineExceededException thrown =
          catchThrowableOfType(DeadlineExceededException.class, stream::hasNext);
      assertThat(thrown.requestId()).contains(request.requestId());
    }
  }

  @Test
  void clientDefaultDeadlineAppliesToCallsWithoutTheirOwn() {
    gateway.service.onListModels = (request, responses, attempt) -> {};

    try (FlotillaClient shortClient = gateway.client(builder -> builder.deadline(SHORT))) {
      DeadlineExceededException thrown =
          catchThrowableOfType(DeadlineExceededException.class, shortClient::listModels);
      assertThat(thrown.code()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    }
  }
}
