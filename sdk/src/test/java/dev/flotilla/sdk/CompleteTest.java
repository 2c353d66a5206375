package dev.flotilla.sdk;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.v1.CompleteResponse;
import dev.flotilla.api.v1.Final;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.ResponseFormat;
import dev.flotilla.api.v1.Timings;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class CompleteTest {
  private final TestGateway gateway = TestGateway.inProcess();
  private final FlotillaClient client = gateway.client();

  @AfterEach
  void stop() throws InterruptedException {
    client.close();
    gateway.close();
  }

  @Test
  void sendsEveryRequestField() {
    answerWith(Replies.completion("r-1", "ok"));

    client.complete(
        CompletionRequest.builder()
            .model("llama-3-8b")
            .adapter("support-bot")
            .prompt("Hello")
            .temperature(0.7f)
            .topK(40)
            .topP(0.9f)
            .seed(-1L) // uint64 max on the wire: the full unsigned range must survive
            .maxTokens(128)
            .stop("\n\n")
            .stop("END")
            .requestId("r-1")
            .reportProgress(true)
            .logprobs(true)
            .build());

    GenerateRequest sent = gateway.service.completeRequests.get(0);
    assertThat(sent.getModel()).isEqualTo("llama-3-8b");
    assertThat(sent.getAdapter()).isEqualTo("support-bot");
    assertThat(sent.getInputCase()).isEqualTo(GenerateRequest.InputCase.PROMPT);
    assertThat(sent.getPrompt()).isEqualTo("Hello");
    assertThat(sent.getSampling().getTemperature()).isEqualTo(0.7f);
    assertThat(sent.getSampling().getTopK()).isEqualTo(40);
    assertThat(sent.getSampling().getTopP()).isEqualTo(0.9f);
    assertThat(sent.getSampling().hasSeed()).isTrue();
    assertThat(Long.toUnsignedString(sent.getSampling().getSeed()))
        .isEqualTo("18446744073709551615");
    assertThat(sent.getSampling().getMaxTokens()).isEqualTo(128);
    assertThat(sent.getSampling().getStopList()).containsExactly("\n\n", "END");
    assertThat(sent.getRequestId()).isEqualTo("r-1");
    assertThat(sent.getReportProgress()).isTrue();
    assertThat(sent.getLogprobs()).isTrue();
  }

  @Test
  void sendsSamplingControlsAndMapsTopLogprobs() {
    answerWith(
        CompleteResponse.newBuilder()
            .setText("ab")
            .addAllTokenIds(List.of(5, 6))
            .addAllLogprobs(List.of(-0.5f, -0.25f))
            .addTopLogprobs(
                dev.flotilla.api.v1.TopLogprobs.newBuilder()
                    .addAllTokenIds(List.of(5, 9))
                    .addAllLogprobs(List.of(-0.5f, -1.5f))
                    .addAllTokens(List.of("a", "z")))
            .addTopLogprobs(
                dev.flotilla.api.v1.TopLogprobs.newBuilder()
                    .addAllTokenIds(List.of(6, 9))
                    .addAllLogprobs(List.of(-0.25f, -2f))
                    .addAllTokens(List.of("b", "z")))
            .setFinal(Final.newBuilder().setRequestId("r-2"))
            .build());

    CompletionResult result =
        client.complete(
            CompletionRequest.builder()
                .model("m")
                .prompt("p")
                .maxTokens(10)
                .presencePenalty(0.5f)
                .frequencyPenalty(-1f)
                .repetitionPenalty(1.2f)
                .logitBias(7, -100f)
                .logitBias(8, 2.5f)
                .minTokens(3)
                .stopTokenId(2)
                .stopTokenId(4)
                .topLogprobs(2)
                .build());

    var sent = gateway.service.completeRequests.get(0);
    assertThat(sent.getLogprobs()).as("top logprobs imply logprobs").isTrue();
    assertThat(sent.getSampling().getPresencePenalty()).isEqualTo(0.5f);
    assertThat(sent.getSampling().getFrequencyPenalty()).isEqualTo(-1f);
    assertThat(sent.getSampling().getRepetitionPenalty()).isEqualTo(1.2f);
    assertThat(sent.getSampling().getLogitBiasMap())
        .containsExactlyInAnyOrderEntriesOf(java.util.Map.of(7, -100f, 8, 2.5f));
    assertThat(sent.getSampling().getMinTokens()).isEqualTo(3);
    assertThat(sent.getSampling().getStopTokenIdsList()).containsExactly(2, 4);
    assertThat(sent.getSampling().getTopLogprobs()).isEqualTo(2);
    assertThat(result.topLogprobs())
        .containsExactly(
            List.of(new TopLogprob(5, "a", -0.5f), new TopLogprob(9, "z", -1.5f)),
            List.of(new TopLogprob(6, "b", -0.25f), new TopLogprob(9, "z", -2f)));
  }

  @Test
  void outOfRangeSamplingControlsFailAtBuild() {
    for (var bad :
        List.<java.util.function.UnaryOperator<CompletionRequest.Builder>>of(
            b -> b.presencePenalty(2.5f),
            b -> b.frequencyPenalty(-3f),
            b -> b.repetitionPenalty(0f),
            b -> b.logitBias(1, 101f),
            b -> b.minTokens(-1),
            b -> b.stopTokenId(-1),
            b -> b.topLogprobs(21))) {
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> bad.apply(CompletionRequest.builder().model("m").prompt("p")).build())
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void sendsTokenIdPromptsAndLeavesUnsetFieldsAtTheirDefaults() {
    answerWith(Replies.completion("any", "ok"));

    CompletionRequest request =
        CompletionRequest.builder().model("m").promptTokenIds(List.of(1, 15043, 29892)).build();
    client.complete(request);

    GenerateRequest sent = gateway.service.completeRequests.get(0);
    assertThat(sent.getInputCase()).isEqualTo(GenerateRequest.InputCase.PROMPT_TOKEN_IDS);
    assertThat(sent.getPromptTokenIds().getIdsList()).containsExactly(1, 15043, 29892);
    assertThat(sent.getAdapter()).isEmpty();
    assertThat(sent.getSampling().hasSeed()).isFalse();
    assertThat(sent.getSampling().getStopList()).isEmpty();
    assertThat(sent.getReportProgress()).isFalse();
    assertThat(sent.getLogprobs()).isFalse();
    assertThat(sent.getSampling().getRepetitionPenalty()).isEqualTo(1f);
    assertThat(sent.getSampling().getLogitBiasMap()).isEmpty();
    assertThat(sent.getSampling().getTopLogprobs()).isZero();
    // No id was set, so the SDK generated one: a UUID, the same the request object reports.
    assertThat(sent.getRequestId()).isEqualTo(request.requestId());
    assertThat(UUID.fromString(sent.getRequestId()).toString()).isEqualTo(sent.getRequestId());
  }

  @Test
  void sendsTheJsonFormat() {
    answerWith(Replies.completion("any", "{}"));
    String schema = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}";
    client.complete(
        CompletionRequest.builder()
            .model("m")
            .prompt("p")
            .jsonFormat(JsonFormat.schema("thing", schema))
            .build());
    client.complete(
        CompletionRequest.builder()
            .model("m")
            .prompt("p")
            .jsonFormat(JsonFormat.anyObject())
            .build());

    ResponseFormat named = gateway.service.completeRequests.get(0).getResponseFormat();
    assertThat(named.getType()).isEqualTo(ResponseFormat.Type.JSON_SCHEMA);
    assertThat(named.getName()).isEqualTo("thing");
    assertThat(named.getSchemaJson()).isEqualTo(schema);
    assertThat(gateway.service.completeRequests.get(1).getResponseFormat().getType())
        .isEqualTo(ResponseFormat.Type.JSON_OBJECT);
  }

  @Test
  void mapsEveryResponseField() {
    answerWith(
        CompleteResponse.newBuilder()
            .setText("Hi there")
            .addAllTokenIds(List.of(6324, 727))
            .addAllLogprobs(List.of(-0.25f, -1.5f))
            .setFinal(
                Final.newBuilder()
                    .setRequestId("r-7")
                    .setFinishReason(dev.flotilla.api.v1.FinishReason.STOP_SEQUENCE)
                    .setUsage(
                        dev.flotilla.api.v1.Usage.newBuilder()
                            .setPromptTokens(3)
                            .setCompletionTokens(2)
                            .setTotalTokens(5))
                    .setTimings(
                        Timings.newBuilder()
                            .setQueueMs(40)
                            .setTimeToFirstTokenMs(55)
                            .setTotalMs(90)))
            .build());

    CompletionResult result =
        client.complete(CompletionRequest.builder().model("m").prompt("p").build());

    assertThat(result)
        .isEqualTo(
            new CompletionResult(
                "Hi there",
                List.of(6324, 727),
                List.of(-0.25f, -1.5f),
                "r-7",
                FinishReason.STOP_SEQUENCE,
                new Usage(3, 2, 5),
                new dev.flotilla.sdk.Timings(
                    Duration.ofMillis(40), Duration.ofMillis(55), Duration.ofMillis(90))));
  }

  @Test
  void sendsNAndMapsEveryChoice() {
    answerWith(
        CompleteResponse.newBuilder()
            .setText("a")
            .addTokenIds(1)
            .addChoices(
                dev.flotilla.api.v1.Choice.newBuilder()
                    .setIndex(0)
                    .setText("a")
                    .addTokenIds(1)
                    .setFinishReason(dev.flotilla.api.v1.FinishReason.LENGTH))
            .addChoices(
                dev.flotilla.api.v1.Choice.newBuilder()
                    .setIndex(1)
                    .setText("bc")
                    .addTokenIds(2)
                    .addTokenIds(3)
                    .setFinishReason(dev.flotilla.api.v1.FinishReason.STOP))
            .setFinal(
                Final.newBuilder()
                    .setRequestId("r-n")
                    .setFinishReason(dev.flotilla.api.v1.FinishReason.LENGTH))
            .build());

    CompletionResult result =
        client.complete(CompletionRequest.builder().model("m").prompt("p").n(2).build());

    assertThat(gateway.service.completeRequests.get(0).getSampling().getN()).isEqualTo(2);
    assertThat(result.text()).isEqualTo("a");
    assertThat(result.choices())
        .containsExactly(
            new Choice(0, "a", List.of(1), List.of(), FinishReason.LENGTH),
            new Choice(1, "bc", List.of(2, 3), List.of(), FinishReason.STOP));
  }

  @Test
  void eachChoiceCarriesItsOwnTopLogprobs() {
    answerWith(
        CompleteResponse.newBuilder()
            .setText("a")
            .addTokenIds(1)
            .addLogprobs(-0.5f)
            .addTopLogprobs(
                dev.flotilla.api.v1.TopLogprobs.newBuilder()
                    .addTokenIds(1)
                    .addLogprobs(-0.5f)
                    .addTokens("a"))
            .addChoices(
                dev.flotilla.api.v1.Choice.newBuilder()
                    .setIndex(0)
                    .setText("a")
                    .addTokenIds(1)
                    .addLogprobs(-0.5f)
                    .addTopLogprobs(
                        dev.flotilla.api.v1.TopLogprobs.newBuilder()
                            .addTokenIds(1)
                            .addLogprobs(-0.5f)
                            .addTokens("a")))
            .addChoices(
                dev.flotilla.api.v1.Choice.newBuilder()
                    .setIndex(1)
                    .setText("b")
                    .addTokenIds(2)
                    .addLogprobs(-0.75f)
                    .addTopLogprobs(
                        dev.flotilla.api.v1.TopLogprobs.newBuilder()
                            .addTokenIds(2)
                            .addLogprobs(-0.75f)
                            .addTokens("b")))
            .setFinal(Final.newBuilder().setRequestId("r-n"))
            .build());

    CompletionResult result =
        client.complete(
            CompletionRequest.builder().model("m").prompt("p").n(2).topLogprobs(1).build());

    assertThat(result.topLogprobs()).containsExactly(List.of(new TopLogprob(1, "a", -0.5f)));
    assertThat(result.choices())
        .extracting(Choice::topLogprobs)
        .containsExactly(
            List.of(List.of(new TopLogprob(1, "a", -0.5f))),
            List.of(List.of(new TopLogprob(2, "b", -0.75f))));
  }

  @Test
  void aRequestOfOneChoiceLeavesNUnsetAndHasOneChoice() {
    answerWith(Replies.completion("r-1", "ok"));
    CompletionResult result =
        client.complete(CompletionRequest.builder().model("m").prompt("p").build());
    assertThat(gateway.service.completeRequests.get(0).getSampling().getN()).isZero();
    assertThat(result.choices())
        .extracting(Choice::index, Choice::text)
        .containsExactly(org.assertj.core.groups.Tuple.tuple(0, result.text()));
  }

  @Test
  void mapsEveryFinishReason() {
    for (var reason : dev.flotilla.api.v1.FinishReason.values()) {
      if (reason == dev.flotilla.api.v1.FinishReason.UNRECOGNIZED) {
        continue;
      }
      gateway.service.onComplete =
          (request, responses, attempt) -> {
            responses.onNext(
                CompleteResponse.newBuilder()
                    .setFinal(Final.newBuilder().setFinishReason(reason))
                    .build());
            responses.onCompleted();
          };
      FinishReason expected =
          reason == dev.flotilla.api.v1.FinishReason.FINISH_REASON_UNSPECIFIED
              ? FinishReason.UNSPECIFIED
              : FinishReason.valueOf(reason.name());

      CompletionResult result =
          client.complete(CompletionRequest.builder().model("m").prompt("p").build());

      assertThat(result.finishReason()).as("%s", reason).isEqualTo(expected);
    }
  }

  private void answerWith(CompleteResponse response) {
    gateway.service.onComplete =
        (request, responses, attempt) -> {
          responses.onNext(response);
          responses.onCompleted();
        };
  }
}
