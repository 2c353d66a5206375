package dev.flotilla.sdk;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.v1.ListModelsResponse;
import io.grpc.Metadata;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AuthenticationHeaderTest {
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final TestGateway gateway = TestGateway.inProcess();

  @AfterEach
  void stop() throws InterruptedException {
    gateway.close();
  }

  @Test
  void everyCallCarriesTheKeyAsBearerToken() {
    gateway.service.onListModels =
        (request, responses, attempt) -> {
          responses.onNext(ListModelsResponse.getDefaultInstance());
          responses.onCompleted();
        };
    gateway.service.onComplete =
        (request, responses, attempt) -> {
          responses.onNext(Replies.completion(request.getRequestId(), "ok"));
          responses.onCompleted();
        };
    gateway.service.onGenerate =
        (request, responses, attempt) -> {
          responses.onNext(Replies.finalMessage(request.getRequestId()));
          responses.onCompleted();
        };
    CompletionRequest request = CompletionRequest.builder().model("m").prompt("p").build();

    try (FlotillaClient client = gateway.client(builder -> builder.apiKey("fl-secret-123"))) {
      client.listModels();
      client.complete(request);
      try (TokenStream stream = client.generate(request)) {
        stream.forEach(event -> {});
      }
    }

    assertThat(gateway.headers)
        .hasSize(3)
        .allSatisfy(
            headers ->
                assertThat(headers.getAll(AUTHORIZATION)).containsExactly("Bearer fl-secret-123"));
  }

  @Test
  void noKeyMeansNoAuthorizationHeader() {
    gateway.service.onListModels =
        (request, responses, attempt) -> {
          responses.onNext(ListModelsResponse.getDefaultInstance());
          responses.onCompleted();
        };

    try (FlotillaClient client = FlotillaClient.builder().channel(gateway.channel()).build()) {
      client.listModels();
    }

    assertThat(gateway.headers)
        .singleElement()
        .satisfies(headers -> assertThat(headers.containsKey(AUTHORIZATION)).isFalse());
  }
}
