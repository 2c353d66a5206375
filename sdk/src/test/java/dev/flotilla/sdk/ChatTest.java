package dev.flotilla.sdk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flotilla.api.v1.CompleteResponse;
import dev.flotilla.api.v1.Final;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.GenerateResponse;
import dev.flotilla.api.v1.ResponseFormat;
import dev.flotilla.api.v1.TokenChunk;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Chat requests over a real loopback gRPC connection: messages, tools, tool choice and sampling
 * reach the wire as {@code flotilla.v1} fields, and tool calls come back whole (unary) and in
 * pieces (streamed).
 */
class ChatTest {
  private static final String WEATHER_PARAMETERS =
      "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}";

  private final TestGateway gateway = TestGateway.loopback();
  private final FlotillaClient client =
      FlotillaClient.builder()
          .target(gateway.target())
          .tls(false)
          .apiKey("test-key")
          .retryPolicy(TestGateway.IMMEDIATE_RETRIES)
          .build();

  @AfterEach
  void stop() throws InterruptedException {
    client.close();
    gateway.close();
  }

  private static CompletionRequest.Builder chat() {
    return CompletionRequest.builder()
        .model("qwen")
        .message(ChatMessage.system("Be brief."))
        .message(ChatMessage.user("Weather in \"Oslo\"?\n"))
        .message(
            ChatMessage.assistantCalls(
                List.of(new ToolCall("call_1", "get_weather", "{\"city\":\"Oslo\"}"))))
        .message(ChatMessage.tool("call_1", "-3 C"))
        .tool(Tool.function("get_weather", "Current weather", WEATHER_PARAMETERS))
        .tool(new Tool("get_time", "", null))
        .temperature(0.5f)
        .seed(7)
        .maxTokens(40)
        .presencePenalty(0.5f);
  }

  private static Final withCalls() {
    return Final.newBuilder()
        .setRequestId("r1")
        .setFinishReason(dev.flotilla.api.v1.FinishReason.TOOL_CALLS)
        .addToolCalls(
            dev.flotilla.api.v1.ToolCall.newBuilder()
                .setId("call_a")
                .setName("get_weather")
                .setArgumentsJson("{\"city\":\"Bergen\"}"))
        .addToolCalls(
            dev.flotilla.api.v1.ToolCall.newBuilder()
                .setId("call_b")
                .setName("get_time")
                .setArgumentsJson("{}"))
        .build();
  }

  @Test
  void aConversationWithToolsGoesOutAsAChatInputAndCallsComeBack() {
    gateway.service.onComplete =
        (request, responses, attempt) -> {
          responses.onNext(CompleteResponse.newBuilder().setFinal(withCalls()).build());
          responses.onCompleted();
        };

    CompletionResult result =
        client.complete(chat().toolChoice(ToolChoice.required()).parallelToolCalls(false).build());

    assertThat(result.finishReason()).isEqualTo(FinishReason.TOOL_CALLS);
    assertThat(result.toolCalls())
        .containsExactly(
            new ToolCall("call_a", "get_weather", "{\"city\":\"Bergen\"}"),
            new ToolCall("call_b", "get_time", "{}"));

    GenerateRequest sent = gateway.service.completeRequests.get(0);
    assertThat(sent.getInputCase()).isEqualTo(GenerateRequest.InputCase.CHAT);
    assertThat(sent.getChat().getMessagesJson())
        .isEqualTo(
            "[{\"role\":\"system\",\"content\":\"Be brief.\"},"
                + "{\"role\":\"user\",\"content\":\"Weather in \\\"Oslo\\\"?\\n\"},"
                + "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\","
                + "\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                + "\"arguments\":{\"city\":\"Oslo\"}}}]},"
                + "{\"role\":\"tool\",\"content\":\"-3 C\",\"tool_call_id\":\"call_1\"}]");
    assertThat(sent.getChat().getToolsJson())
        .isEqualTo(
            "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                + "\"description\":\"Current weather\",\"parameters\":"
                + WEATHER_PARAMETERS
                + "}},{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}]");
    assertThat(sent.getChat().getAddGenerationPrompt()).isTrue();
    assertThat(sent.getToolChoice().getMode())
        .isEqualTo(dev.flotilla.api.v1.ToolChoice.Mode.REQUIRED);
    assertThat(sent.getToolChoice().hasParallelToolCalls()).isTrue();
    assertThat(sent.getToolChoice().getParallelToolCalls()).isFalse();
    assertThat(sent.getSampling().getTemperature()).isEqualTo(0.5f);
    assertThat(sent.getSampling().getSeed()).isEqualTo(7);
    assertThat(sent.getSampling().getMaxTokens()).isEqualTo(40);
    assertThat(sent.getSampling().getPresencePenalty()).isEqualTo(0.5f);
  }

  @Test
  void aNamedFunctionAndAResponseFormatMapToTheirFields() {
    gateway.service.onComplete =
        (request, responses, attempt) -> {
          responses.onNext(CompleteResponse.newBuilder().setFinal(withCalls()).build());
          responses.onCompleted();
        };
    client.complete(chat().toolChoice(ToolChoice.function("get_time")).build());
    client.complete(
        CompletionRequest.builder()
            .model("qwen")
            .message(ChatMessage.user("json please"))
            .jsonFormat(JsonFormat.schema("w", WEATHER_PARAMETERS))
            .build());

    GenerateRequest named = gateway.service.completeRequests.get(0);
    assertThat(named.getToolChoice().getMode())
        .isEqualTo(dev.flotilla.api.v1.ToolChoice.Mode.FUNCTION);
    assertThat(named.getToolChoice().getFunctionName()).isEqualTo("get_time");
    assertThat(named.getToolChoice().hasParallelToolCalls()).as("the server's default").isFalse();
    GenerateRequest json = gateway.service.completeRequests.get(1);
    assertThat(json.getResponseFormat().getType()).isEqualTo(ResponseFormat.Type.JSON_SCHEMA);
    assertThat(json.getResponseFormat().getSchemaJson()).isEqualTo(WEATHER_PARAMETERS);
    assertThat(json.getChat().getToolsJson()).isEmpty();
  }

  @Test
  void streamedToolCallsArriveInPiecesThatAddUpToTheFinalCalls() {
    gateway.service.onGenerate =
        (request, responses, attempt) -> {
          responses.onNext(
              GenerateResponse.newBuilder()
                  .setTokens(
                      TokenChunk.newBuilder()
                          .setText("Checking. ")
                          .addToolCalls(
                              dev.flotilla.api.v1.ToolCallDelta.newBuilder()
                                  .setIndex(0)
                                  .setId("call_a")
                                  .setName("get_weather")))
                  .build());
          for (String piece : List.of("{\"city\"", ":\"Ber", "gen\"}")) {
            responses.onNext(
                GenerateResponse.newBuilder()
                    .setTokens(
                        TokenChunk.newBuilder()
                            .addToolCalls(
                                dev.flotilla.api.v1.ToolCallDelta.newBuilder()
                                    .setIndex(0)
                                    .setArgumentsJson(piece)))
                    .build());
          }
          responses.onNext(
              GenerateResponse.newBuilder()
                  .setTokens(
                      TokenChunk.newBuilder()
                          .addToolCalls(
                              dev.flotilla.api.v1.ToolCallDelta.newBuilder()
                                  .setIndex(1)
                                  .setId("call_b")
                                  .setName("get_time")
                                  .setArgumentsJson("{}")))
                  .build());
          responses.onNext(GenerateResponse.newBuilder().setFinal(withCalls()).build());
          responses.onCompleted();
        };

    List<ToolCallDelta> deltas = new ArrayList<>();
    StringBuilder text = new StringBuilder();
    StreamEvent.Finished end = null;
    try (TokenStream stream = client.generate(chat().build())) {
      while (stream.hasNext()) {
        StreamEvent e = stream.next();
        if (e instanceof StreamEvent.Tokens t) {
          text.append(t.text());
          deltas.addAll(t.toolCalls());
        } else if (e instanceof StreamEvent.Finished f) {
          end = f;
        }
      }
    }
    assertThat(text.toString()).isEqualTo("Checking. ");
    assertThat(deltas.get(0)).isEqualTo(new ToolCallDelta(0, "call_a", "get_weather", ""));
    Map<Integer, String> arguments = new TreeMap<>();
    deltas.forEach(d -> arguments.merge(d.index(), d.argumentsJson(), String::concat));
    assertThat(end).isNotNull();
    assertThat(end.finishReason()).isEqualTo(FinishReason.TOOL_CALLS);
    assertThat(arguments)
        .containsExactly(
            Map.entry(0, end.toolCalls().get(0).argumentsJson()),
            Map.entry(1, end.toolCalls().get(1).argumentsJson()));
    assertThat(gateway.service.generateRequests.get(0).getToolChoice().getMode())
        .isEqualTo(dev.flotilla.api.v1.ToolChoice.Mode.AUTO);
  }

  @Test
  void refusesToolsWithoutAConversationAndAFunctionTheToolsDoNotList() {
    assertThatThrownBy(
            () ->
                CompletionRequest.builder()
                    .model("m")
                    .prompt("x")
                    .tool(new Tool("f", "", null))
                    .build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("tools go with chat messages");
    assertThatThrownBy(() -> chat().toolChoice(ToolChoice.function("nope")).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("nope");
    assertThatThrownBy(() -> chat().prompt("x").build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("give one of");
  }
}
