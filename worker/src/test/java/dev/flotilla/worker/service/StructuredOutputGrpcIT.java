package dev.flotilla.worker.service;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.api.v1.ChatInput;
import dev.flotilla.api.v1.FinishReason;
import dev.flotilla.api.v1.ResponseFormat;
import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.v1.ToolChoice;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.worker.InProcessWorker;
import dev.flotilla.worker.InProcessWorker.Result;
import dev.flotilla.worker.structured.JsonSchemaCheck;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Structured output and forced tool calls through the worker's gRPC service and the real engine on
 * the tiny model: sampled at temperature 1 with many seeds, every output that ends on its own is
 * valid for its schema; refused schemas name the keyword.
 */
class StructuredOutputGrpcIT {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
  private static final Pattern CALL =
      Pattern.compile(
          "<tool_call>\\n\\{\"name\":\"([^\"]+)\", \"arguments\": (.*)\\}\\n</tool_call>",
          Pattern.DOTALL);
  private static final String SCHEMA =
      "{\"type\":\"object\",\"properties\":{"
          + "\"city\":{\"type\":\"string\",\"maxLength\":8},"
          + "\"unit\":{\"enum\":[\"C\",\"F\"]},"
          + "\"days\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}},"
          + "\"alerts\":{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"boolean\"}]}},"
          + "\"required\":[\"city\",\"unit\"]}";
  private static final String TOOLS =
      "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":"
          + SCHEMA
          + "}},{\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"parameters\":"
          + "{\"type\":\"object\",\"properties\":{\"zone\":{\"enum\":[\"UTC\",\"CET\"]}},"
          + "\"required\":[\"zone\"]}}}]";

  static InProcessWorker worker;

  @BeforeAll
  static void start() throws Exception {
    worker = InProcessWorker.start();
  }

  @AfterAll
  static void stop() throws Exception {
    worker.close();
  }

  private static WorkerGenerateRequest.Builder sampled(long seed) {
    return WorkerGenerateRequest.newBuilder()
        .setRequestId("s" + seed)
        .setSampling(
            SamplingParams.newBuilder().setTemperature(1f).setSeed(seed).setMaxTokens(300));
  }

  private static List<Result> all(List<WorkerGenerateRequest> requests) {
    List<CompletableFuture<Result>> futures = requests.stream().map(worker::generateAsync).toList();
    return futures.stream().map(f -> f.orTimeout(120, TimeUnit.SECONDS).join()).toList();
  }

  @Test
  void jsonSchemaOutputParsesAndValidates() throws Exception {
    List<WorkerGenerateRequest> requests = new ArrayList<>();
    for (int seed = 0; seed < 16; seed++) {
      requests.add(
          sampled(seed)
              .setPrompt("weather report number " + seed)
              .setResponseFormat(
                  ResponseFormat.newBuilder()
                      .setType(ResponseFormat.Type.JSON_SCHEMA)
                      .setSchemaJson(SCHEMA))
              .build());
    }
    int stopped = 0;
    for (Result r : all(requests)) {
      assertThat(r.ok()).as("%s", r.error()).isTrue();
      if (r.fin().getFinishReason() == FinishReason.STOP) {
        stopped++;
        assertThat(JsonSchemaCheck.valid(JSON.readTree(r.text()), JSON.readTree(SCHEMA)))
            .as(r.text())
            .isTrue();
      } else {
        assertThat(r.fin().getFinishReason()).isEqualTo(FinishReason.LENGTH);
      }
    }
    assertThat(stopped).isGreaterThanOrEqualTo(12);
  }

  @Test
  void forcedToolCallsHaveArgumentsValidForTheFunction() throws Exception {
    List<WorkerGenerateRequest> requests = new ArrayList<>();
    for (int seed = 0; seed < 16; seed++) {
      ToolChoice choice =
          seed % 2 == 0
              ? ToolChoice.newBuilder()
                  .setMode(ToolChoice.Mode.FUNCTION)
                  .setFunctionName("get_weather")
                  .build()
              : ToolChoice.newBuilder()
                  .setMode(ToolChoice.Mode.REQUIRED)
                  // parallel calls on (OpenAI's default) and off in turn
                  .setParallelToolCalls(seed % 4 == 1)
                  .build();
      requests.add(
          sampled(100 + seed)
              .setChat(
                  ChatInput.newBuilder()
                      .setMessagesJson(
                          "[{\"role\":\"user\",\"content\":\"What is the weather? " + seed + "\"}]")
                      .setToolsJson(TOOLS)
                      .setAddGenerationPrompt(true))
              .setToolChoice(choice)
              .build());
    }
    JsonNode tools = JSON.readTree(TOOLS);
    List<Result> results = all(requests);
    int stopped = 0;
    for (int i = 0; i < results.size(); i++) {
      Result r = results.get(i);
      assertThat(r.ok()).as("%s", r.error()).isTrue();
      if (r.fin().getFinishReason() != FinishReason.STOP) {
        continue;
      }
      stopped++;
      String[] blocks = r.text().split("(?<=</tool_call>)\n(?=<tool_call>)");
      if (i % 4 != 1) {
        assertThat(blocks).as("one call: %s", r.text()).hasSize(1);
      }
      for (String block : blocks) {
        Matcher m = CALL.matcher(block);
        assertThat(m.matches()).as("a Hermes tool call: %s", r.text()).isTrue();
        String name = m.group(1);
        if (i % 2 == 0) {
          assertThat(name).isEqualTo("get_weather");
        }
        JsonNode parameters = null;
        for (JsonNode t : tools) {
          if (t.path("function").path("name").asText().equals(name)) {
            parameters = t.path("function").path("parameters");
          }
        }
        assertThat(parameters).as("a listed function: %s", name).isNotNull();
        assertThat(JsonSchemaCheck.valid(JSON.readTree(m.group(2)), parameters))
            .as(r.text())
            .isTrue();
      }
    }
    assertThat(stopped).isGreaterThanOrEqualTo(12);
  }

  @Test
  void refusedSchemasNameTheField() {
    Result r =
        worker.generate(
            sampled(1)
                .setPrompt("x")
                .setResponseFormat(
                    ResponseFormat.newBuilder()
                        .setType(ResponseFormat.Type.JSON_SCHEMA)
                        .setSchemaJson("{\"type\":\"string\",\"pattern\":\"a+\"}"))
                .build());
    assertThat(r.error().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(r.error().getDescription()).contains("'pattern'");

    Result unknown =
        worker.generate(
            sampled(2)
                .setChat(
                    ChatInput.newBuilder()
                        .setMessagesJson("[{\"role\":\"user\",\"content\":\"hi\"}]")
                        .setToolsJson(TOOLS))
                .setToolChoice(
                    ToolChoice.newBuilder()
                        .setMode(ToolChoice.Mode.FUNCTION)
                        .setFunctionName("nope"))
                .build());
    assertThat(unknown.error().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(unknown.error().getDescription()).contains("'nope'");
  }

  @Test
  void minTokensIsRefusedWithAGrammarThatMayEndFirst() {
    // Once the value is whole only end-of-sequence may follow, which min_tokens would ban.
    Result r =
        worker.generate(
            sampled(3)
                .setPrompt("x")
                .setSampling(
                    SamplingParams.newBuilder()
                        .setTemperature(1f)
                        .setSeed(3)
                        .setMaxTokens(300)
                        .setMinTokens(290))
                .setResponseFormat(
                    ResponseFormat.newBuilder().setType(ResponseFormat.Type.JSON_OBJECT))
                .build());
    assertThat(r.error()).isNotNull();
    assertThat(r.error().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(r.error().getDescription()).startsWith("min_tokens must be 0");
  }
}
