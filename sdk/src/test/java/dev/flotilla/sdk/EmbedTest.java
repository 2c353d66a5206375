package dev.flotilla.sdk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.flotilla.api.v1.EmbedInput;
import dev.flotilla.api.v1.EmbedResponse;
import dev.flotilla.api.v1.Embedding;
import dev.flotilla.api.v1.TokenIds;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class EmbedTest {
  private final TestGateway gateway = TestGateway.inProcess();
  private final FlotillaClient client = gateway.client();

  @AfterEach
  void stop() throws InterruptedException {
    client.close();
    gateway.close();
  }

  @Test
  void sendsEveryInputAndReturnsOneVectorEachInOrder() {
    gateway.service.onEmbed =
        (request, responses, attempt) -> {
          responses.onNext(
              EmbedResponse.newBuilder()
                  .setRequestId(request.getRequestId())
                  .addEmbeddings(Embedding.newBuilder().addValues(0.6f).addValues(0.8f))
                  .addEmbeddings(Embedding.newBuilder().addValues(1f).addValues(0f))
                  .setUsage(
                      dev.flotilla.api.v1.Usage.newBuilder().setPromptTokens(5).setTotalTokens(5))
                  .setTimings(dev.flotilla.api.v1.Timings.newBuilder().setTotalMs(12))
                  .build());
          responses.onCompleted();
        };

    EmbeddingResult r =
        client.embed(
            EmbeddingRequest.of(
                    "qwen-embed",
                    List.of(EmbeddingInput.text("hello"), EmbeddingInput.tokenIds(List.of(1, 2))))
                .withAdapter("legal")
                .withDimensions(2));

    assertThat(r.embeddings()).hasSize(2);
    assertThat(r.embeddings().get(0)).containsExactly(0.6f, 0.8f);
    assertThat(r.embeddings().get(1)).containsExactly(1f, 0f);
    assertThat(r.usage()).isEqualTo(new Usage(5, 0, 5));
    assertThat(r.timings().total()).isEqualTo(Duration.ofMillis(12));
    var sent = gateway.service.embedRequests.get(0);
    assertThat(sent.getModel()).isEqualTo("qwen-embed");
    assertThat(sent.getAdapter()).isEqualTo("legal");
    assertThat(sent.getDimensions()).isEqualTo(2);
    assertThat(sent.getInputsList())
        .containsExactly(
            EmbedInput.newBuilder().setText("hello").build(),
            EmbedInput.newBuilder().setTokenIds(TokenIds.newBuilder().addIds(1).addIds(2)).build());
    assertThat(r.requestId()).isEqualTo(sent.getRequestId()).isNotEmpty();
  }

  @Test
  void aRefusalIsAnInvalidRequestAndARetryKeepsTheRequestId() {
    gateway.service.onEmbed =
        (request, responses, attempt) -> {
          if (attempt == 1) {
            responses.onError(Status.UNAVAILABLE.withDescription("cold").asRuntimeException());
          } else {
            responses.onError(
                Status.INVALID_ARGUMENT
                    .withDescription("model m is not an embedding model")
                    .asRuntimeException());
          }
        };
    InvalidRequestException e =
        catchThrowableOfType(
            InvalidRequestException.class,
            () -> client.embed(EmbeddingRequest.of("m", List.of(EmbeddingInput.text("x")))));
    assertThat(e).hasMessageContaining("not an embedding model");
    assertThat(gateway.service.embedRequests).hasSize(2);
    assertThat(gateway.service.embedRequests.get(1).getRequestId())
        .isEqualTo(gateway.service.embedRequests.get(0).getRequestId());
  }
}
