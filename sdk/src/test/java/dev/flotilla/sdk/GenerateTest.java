package dev.flotilla.sdk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flotilla.api.v1.Final;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.GenerateResponse;
import dev.flotilla.api.v1.HeldProgress;
import dev.flotilla.api.v1.TokenChunk;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class GenerateTest {
  private final TestGateway gateway = TestGateway.inProcess();
  private final FlotillaClient client = gateway.client();

  @AfterEach
  void stop() throws InterruptedException {
    client.close();
    gateway.close();
  }

  @Test
  void sendsTheRequestFields() {
    gateway.service.onGenerate = (request, responses, attempt) -> responses.onCompleted();

    try (TokenStream stream =
        client.generate(
            CompletionRequest.builder()
                .model("llama")
                .adapter("sql")
                .prompt("SELECT")
                .temperature(0.2f)
                .topK(5)
                .topP(0.5f)
                .seed(7)
                .maxTokens(9)
                .stop(";")
                .requestId("r-9")
                .reportProgress(true)
                .logprobs(true)
                .build())) {
      assertThat(stream.hasNext()).isFalse();
    }

    GenerateRequest sent = gateway.service.generateRequests.get(0);
    assertThat(sent.getModel()).isEqualTo("llama");
    assertThat(sent.getAdapter()).isEqualTo("sql");
    assertThat(sent.getPrompt()).isEqualTo("SELECT");
    assertThat(sent.getSampling().getTemperature()).isEqualTo(0.2f);
    assertThat(sent.getSampling().getTopK()).isEqualTo(5);
    assertThat(sent.getSampling().getTopP()).isEqualTo(0.5f);
    assertThat(sent.getSampling().getSeed()).isEqualTo(7);
    assertThat(sent.getSampling().getMaxTokens()).isEqualTo(9);
    assertThat(sent.getSampling().getStopList()).containsExactly(";");
    assertThat(sent.getRequestId()).isEqualTo("r-9");
    assertThat(sent.getReportProgress()).isTrue();
    assertThat(sent.getLogprobs()).isTrue();
  }

  @Test
  void streamsProgressTokensAndTheFinalSummaryInOrder() {
    gateway.service.onGenerate =
        (request, responses, attempt) -> {
          responses.onNext(Replies.progress(HeldProgress.Phase.WAITING_FOR_WORKER, 1500, 2));
          responses.onNext(Replies.progress(HeldProgress.Phase.WORKER_STARTING, 4000, 0));
          responses.onNext(
              GenerateResponse.newBuilder()
                  .setTokens(
                      TokenChunk.newBuilder()
                          .setText("Hel")
                          .addTokenIds(10)
                          .addTokenIds(11)
                          .addLogprobs(-0.5f)
                          .addLogprobs(-0.75f))
                  .build());
          responses.onNext(Replies.tokens("lo", 12));
          responses.onNext(
              GenerateResponse.newBuilder()
                  .setFinal(
                      Final.newBuilder()
                          .setRequestId("r-1")
                          .setFinishReason(dev.flotilla.api.v1.FinishReason.CONTEXT_LENGTH)
                          .setUsage(
                              dev.flotilla.api.v1.Usage.newBuilder()
                                  .setPromptTokens(4)
                                  .setCompletionTokens(3)
                                  .setTotalTokens(7))
                          .setTimings(
                              dev.flotilla.api.v1.Timings.newBuilder()
                                  .setQueueMs(4000)
                                  .setTimeToFirstTokenMs(4100)
                                  .setTotalMs(4200)))
                  .build());
          responses.onCompleted();
        };

    List<StreamEvent> events = new ArrayList<>();
    try (TokenStream stream =
        client.generate(CompletionRequest.builder().model("m").prompt("p").build())) {
      stream.forEach(events::add);
    }

    assertThat(events)
        .containsExactly(
            new StreamEvent.Progress(
                StreamEvent.Progress.Phase.WAITING_FOR_WORKER, Duration.ofMillis(1500), 2),
            new StreamEvent.Progress(
                StreamEvent.Progress.Phase.WORKER_STARTING, Duration.ofMillis(4000), 0),
            new StreamEvent.Tokens("Hel", List.of(10, 11), List.of(-0.5f, -0.75f)),
            new StreamEvent.Tokens("lo", List.of(12), List.of()),
            new StreamEvent.Finished(
                "r-1",
                FinishReason.CONTEXT_LENGTH,
                new Usage(4, 3, 7),
                new Timings(
                    Duration.ofMillis(4000), Duration.ofMillis(4100), Duration.ofMillis(4200))));
  }

  @Test
  void skipsMessagesWithAnEventItDoesNotKnow() {
    gateway.service.onGenerate =
        (request, responses, attempt) -> {
          responses.onNext(
              GenerateResponse.getDefaultInstance()); // what a newer server's new event looks like
          responses.onNext(Replies.tokens("a"));
          responses.onCompleted();
        };

    List<StreamEvent> events = new ArrayList<>();
    try (TokenStream stream =
        client.generate(CompletionRequest.builder().model("m").prompt("p").build())) {
      stream.forEach(events::add);
    }

    assertThat(events).containsExactly(new StreamEvent.Tokens("a", List.of(), List.of()));
  }

  @Test
  void closingTheStreamCancelsTheServerCall() throws InterruptedException {
    gateway.service.onGenerate =
        (request, responses, attempt) -> responses.onNext(Replies.tokens("first"));

    TokenStream stream =
        client.generate(CompletionRequest.builder().model("m").prompt("p").build());
    assertThat(stream.next()).isEqualTo(new StreamEvent.Tokens("first", List.of(), List.of()));
    stream.close();

    assertThat(gateway.service.generateCancelled.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(stream.hasNext()).isFalse();
    assertThatThrownBy(stream::next).isInstanceOf(NoSuchElementException.class);
  }

  @Test
  void canBeIteratedOnlyOnce() {
    gateway.service.onGenerate = (request, responses, attempt) -> responses.onCompleted();

    try (TokenStream stream =
        client.generate(CompletionRequest.builder().model("m").prompt("p").build())) {
      stream.iterator();
      assertThatThrownBy(stream::iterator).isInstanceOf(IllegalStateException.class);
    }
  }
}
