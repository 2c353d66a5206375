package dev.flotilla.gateway.openai;

import static dev.flotilla.gateway.service.PipelineHarness.ACME;
import static dev.flotilla.gateway.service.PipelineHarness.GLOBEX;
import static dev.flotilla.gateway.service.PipelineHarness.MODEL;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.gateway.Fixtures;
import dev.flotilla.gateway.TestLogs;
import dev.flotilla.gateway.service.FakeWorker;
import dev.flotilla.gateway.service.PipelineHarness;
import io.grpc.Status;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The OpenAI-compatible HTTP surface over real HTTP on loopback, on the same pipeline harness as
 * the gRPC tests: request mapping, response and chunk shapes, and every error's status, OpenAI
 * error body and Retry-After.
 */
class OpenAiHttpIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private PipelineHarness harness;
  private Vertx vertx;
  private final List<HttpServer> servers = new ArrayList<>();
  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();
  private String base;

  @BeforeAll
  static void quiet() {
    TestLogs.quiet("dev.flotilla.gateway", "io.grpc", "io.vertx");
  }

  @BeforeEach
  void start() throws Exception {
    harness = new PipelineHarness();
    vertx = Vertx.vertx();
    base = serve(Duration.ofSeconds(30));
  }

  /** Serves the routes with this HTTP timeout; returns the base URL. */
  private String serve(Duration timeout) throws Exception {
    Router router = Router.router(vertx);
    new OpenAiHttp(
            harness.pipeline,
            JSON,
            vertx,
            new OpenAiHttp.Settings(timeout, 1 << 20),
            Clock.systemUTC())
        .register(router);
    HttpServer server =
        vertx
            .createHttpServer()
            .requestHandler(router)
            .listen(0)
            .toCompletionStage()
            .toCompletableFuture()
            .get(10, TimeUnit.SECONDS);
    servers.add(server);
    return "http://127.0.0.1:" + server.actualPort();
  }

  @AfterEach
  void stop() throws Exception {
    for (HttpServer s : servers) {
      s.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
    }
    vertx.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
    harness.close();
  }

  private HttpRequest.Builder post(String url, String key, Object body) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(url))
            .timeout(Duration.ofSeconds(20))
            .header("Content-Type", "application/json")
            .POST(
                HttpRequest.BodyPublishers.ofString(
                    body instanceof String s ? s : JSON.writeValueAsString(body)));
    if (key != null) {
      b.header("Authorization", "Bearer " + key);
    }
    return b;
  }

  private HttpResponse<String> call(String path, String key, Object body) throws Exception {
    return http.send(post(base + path, key, body).build(), HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode json(HttpResponse<String> r) throws Exception {
    return JSON.readTree(r.body());
  }

  /** The JSON payloads of an SSE body, {@code [DONE]} as the text node "[DONE]". */
  private static List<JsonNode> events(String body) throws Exception {
    List<JsonNode> out = new ArrayList<>();
    for (String block : body.split("\n\n")) {
      if (block.isBlank()) {
        continue;
      }
      assertThat(block).startsWith("data: ");
      String data = block.substring(6);
      out.add(
          data.equals("[DONE]") ? JSON.getNodeFactory().textNode("[DONE]") : JSON.readTree(data));
    }
    return out;
  }

  private static void assertError(
      HttpResponse<String> r, int status, String type, String param, String code) throws Exception {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json");
    JsonNode e = json(r).get("error");
    assertThat(e.get("message").asText()).isNotBlank();
    assertThat(e.get("type").asText()).isEqualTo(type);
    assertThat(e.get("param").isNull() ? null : e.get("param").asText()).isEqualTo(param);
    assertThat(e.get("code").isNull() ? null : e.get("code").asText()).isEqualTo(code);
  }

  @Test
  void completionsAnswerInOpenAiShapeAndAreBilledLikeGrpc() throws Exception {
    FakeWorker w = harness.worker("w1");
    w.tokens = 3;
    HttpResponse<String> r =
        http.send(
            post(
                    base + "/v1/completions",
                    ACME,
                    Map.of(
                        "model",
                        MODEL,
                        "prompt",
                        "hello",
                        "max_tokens",
                        8,
                        "temperature",
                        0.5,
                        "top_p",
                        0.9,
                        "seed",
                        42,
                        "stop",
                        List.of("###", "END"),
                        "user",
                        "someone",
                        "n",
                        1))
                .header("X-Request-Id", "req-123")
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonNode body = json(r);
    assertThat(body.get("id").asText()).isEqualTo("cmpl-req-123");
    assertThat(body.get("object").asText()).isEqualTo("text_completion");
    assertThat(body.get("model").asText()).isEqualTo(MODEL);
    assertThat(body.get("created").asLong()).isPositive();
    JsonNode choice = body.get("choices").get(0);
    assertThat(choice.get("index").asInt()).isZero();
    assertThat(choice.get("text").asText()).isEqualTo("t0 t1 t2 ");
    assertThat(choice.get("finish_reason").asText()).isEqualTo("stop");
    assertThat(choice.get("logprobs").isNull()).isTrue();
    assertThat(body.get("usage").get("prompt_tokens").asInt()).isEqualTo(7);
    assertThat(body.get("usage").get("completion_tokens").asInt()).isEqualTo(3);
    assertThat(body.get("usage").get("total_tokens").asInt()).isEqualTo(10);
    var sent = w.generated.get(0);
    assertThat(sent.getPrompt()).isEqualTo("hello");
    assertThat(sent.getSampling().getMaxTokens()).isEqualTo(8);
    assertThat(sent.getSampling().getTemperature()).isEqualTo(0.5f);
    assertThat(sent.getSampling().getTopP()).isEqualTo(0.9f);
    assertThat(sent.getSampling().getSeed()).isEqualTo(42);
    assertThat(sent.getSampling().getStopList()).containsExactly("###", "END");
    assertThat(sent.getRequestId()).isEqualTo("req-123");
    await().until(() -> harness.usage.size() == 1);
    var event = harness.usage.get(0);
    assertThat(event.requestId()).isEqualTo("req-123");
    assertThat(event.tenant()).isEqualTo("acme");
    assertThat(event.status()).isEqualTo("OK");
    assertThat(event.promptTokens()).isEqualTo(7);
    assertThat(event.completionTokens()).isEqualTo(3);
  }

  @Test
  void tokenIdPromptsAdaptersAndLogprobsMap() throws Exception {
    FakeWorker w = harness.worker("w1");
    w.tokens = 2;
    HttpResponse<String> r =
        call(
            "/v1/completions",
            ACME,
            Map.of(
                "model",
                "tiny-llama:acme-support",
                "prompt",
                List.of(List.of(5, 6, 7)),
                "max_tokens",
                2,
                "logprobs",
                1));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonNode choice = json(r).get("choices").get(0);
    assertThat(choice.get("finish_reason").asText()).isEqualTo("length");
    JsonNode lp = choice.get("logprobs");
    assertThat(lp.get("tokens")).extracting(JsonNode::asText).containsExactly("t0 ", "t1 ");
    assertThat(lp.get("token_logprobs"))
        .extracting(JsonNode::asDouble)
        .containsExactly(-0.25, -0.5);
    assertThat(lp.get("text_offset")).extracting(JsonNode::asInt).containsExactly(0, 3);
    var sent = w.generated.get(0);
    assertThat(sent.getPromptTokenIds().getIdsList()).containsExactly(5, 6, 7);
    assertThat(sent.getAdapter()).isEqualTo("acme-support");
    assertThat(sent.getLogprobs()).isTrue();
    // OpenAI's default temperature is 1, not greedy.
    assertThat(sent.getSampling().getTemperature()).isEqualTo(1.0f);
  }

  @Test
  void eachChoiceHasItsOwnTopLogprobs() throws Exception {
    FakeWorker w = harness.worker("w1");
    w.tokens = 2;
    HttpResponse<String> r =
        call(
            "/v1/completions",
            ACME,
            Map.of("model", MODEL, "prompt", "x", "max_tokens", 2, "n", 2, "logprobs", 2));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonNode choices = json(r).get("choices");
    assertThat(choices).hasSize(2);
    for (int c = 0; c < 2; c++) {
      JsonNode lp = choices.get(c).get("logprobs");
      assertThat(lp.get("tokens"))
          .extracting(JsonNode::asText)
          .containsExactly("c" + c + "t0 ", "c" + c + "t1 ");
      assertThat(lp.get("token_logprobs"))
          .extracting(JsonNode::asDouble)
          .containsExactly(-0.25 * (c + 1), -0.5 * (c + 1));
      JsonNode top = lp.get("top_logprobs").get(1);
      assertThat(top.get("c" + c + "t1 ").asDouble()).isEqualTo(-0.5 * (c + 1));
      assertThat(top.get("c" + c + "alt1").asDouble()).isEqualTo(-1.0);
      assertThat(top.size()).isEqualTo(2);
    }
    assertThat(w.generated.get(0).getSampling().getTopLogprobs()).isEqualTo(2);

    HttpResponse<String> stream =
        call(
            "/v1/chat/completions",
            ACME,
            Map.of(
                "model",
                MODEL,
                "messages",
                List.of(Map.of("role", "user", "content", "x")),
                "max_tokens",
                2,
                "n",
                2,
                "logprobs",
                true,
                "top_logprobs",
                2,
                "stream",
                true));
    assertThat(stream.statusCode()).as(stream.body()).isEqualTo(200);
    Map<Integer, List<String>> alternatives = new java.util.TreeMap<>();
    for (JsonNode e : events(stream.body())) {
      if (!e.isObject() || e.get("choices").isEmpty()) {
        continue;
      }
      JsonNode choice = e.get("choices").get(0);
      JsonNode content = choice.path("logprobs").path("content");
      for (JsonNode token : content) {
        for (JsonNode alt : token.get("top_logprobs")) {
          alternatives
              .computeIfAbsent(choice.get("index").asInt(), i -> new ArrayList<>())
              .add(alt.get("token").asText());
        }
      }
    }
    assertThat(alternatives)
        .containsExactly(
            Map.entry(0, List.of("c0t0 ", "c0alt1", "c0t1 ", "c0alt1")),
            Map.entry(1, List.of("c1t0 ", "c1alt1", "c1t1 ", "c1alt1")));
  }

  @Test
  void chatRendersTheModelsTemplateAndAnswersAMessage() throws Exception {
    FakeWorker w = harness.worker("w1");
    w.tokens = 2;
    List<Map<String, Object>> messages =
        List.of(
            Map.of("role", "system", "content", "be brief"),
            Map.of("role", "user", "content", List.of(Map.of("type", "text", "text", "hi"))));
    HttpResponse<String> r =
        call(
            "/v1/chat/completions",
            ACME,
            Map.of(
                "model",
                MODEL,
                "messages",
                messages,
                "max_completion_tokens",
                4,
                "logprobs",
                true));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonNode body = json(r);
    assertThat(body.get("object").asText()).isEqualTo("chat.completion");
    assertThat(body.get("id").asText()).startsWith("chatcmpl-");
    JsonNode choice = body.get("choices").get(0);
    assertThat(choice.get("message").get("role").asText()).isEqualTo("assistant");
    assertThat(choice.get("message").get("content").asText()).isEqualTo("t0 t1 ");
    assertThat(choice.get("logprobs").get("content").get(1).get("logprob").asDouble())
        .isEqualTo(-0.5);
    // The worker renders the conversation with the model's own template; the gateway sends it.
    assertThat(JSON.readTree(w.generated.get(0).getChat().getMessagesJson()))
        .isEqualTo(
            JSON.readTree(
                "[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"hi\"}]"));
    assertThat(w.generated.get(0).getChat().getAddGenerationPrompt()).isTrue();
    assertThat(w.generated.get(0).getSampling().getMaxTokens()).isEqualTo(4);

    // A template's raise_exception (or a model without a template) is the worker's
    // INVALID_ARGUMENT: a 400 carrying its message, not a retry on another worker.
    String raised = "Conversation roles must alternate user/assistant/user/assistant/...";
    w.refuseWith = Status.INVALID_ARGUMENT.withDescription(raised);
    try {
      HttpResponse<String> refused =
          call(
              "/v1/chat/completions",
              ACME,
              Map.of("model", MODEL, "messages", List.of(Map.of("role", "user", "content", "hi"))));
      assertError(refused, 400, "invalid_request_error", null, null);
      assertThat(json(refused).get("error").get("message").asText()).contains(raised);
    } finally {
      w.refuseWith = null;
    }
  }

  @Test
  void streamingSendsChunksThenTheFinishThenUsageThenDone() throws Exception {
    harness.worker("w1").tokens = 3;
    HttpResponse<String> r =
        call(
            "/v1/chat/completions",
            ACME,
            Map.of(
                "model",
                MODEL,
                "messages",
                List.of(Map.of("role", "user", "content", "hi")),
                "stream",
                true,
                "stream_options",
                Map.of("include_usage", true),
                "max_tokens",
                10));
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type").orElseThrow())
        .startsWith("text/event-stream");
    List<JsonNode> events = events(r.body());
    assertThat(events).hasSize(6);
    String id = events.get(0).get("id").asText();
    for (JsonNode e : events.subList(0, 5)) {
      assertThat(e.get("id").asText()).isEqualTo(id);
      assertThat(e.get("object").asText()).isEqualTo("chat.completion.chunk");
    }
    assertThat(events.get(0).get("choices").get(0).get("delta").get("role").asText())
        .isEqualTo("assistant");
    assertThat(events.get(1).get("choices").get(0).get("delta").has("role")).isFalse();
    StringBuilder text = new StringBuilder();
    for (JsonNode e : events.subList(0, 3)) {
      text.append(e.get("choices").get(0).get("delta").get("content").asText());
      assertThat(e.get("choices").get(0).get("finish_reason").isNull()).isTrue();
      assertThat(e.get("usage").isNull()).isTrue();
    }
    assertThat(text).hasToString("t0 t1 t2 ");
    assertThat(events.get(3).get("choices").get(0).get("finish_reason").asText()).isEqualTo("stop");
    assertThat(events.get(4).get("choices")).isEmpty();
    assertThat(events.get(4).get("usage").get("completion_tokens").asInt()).isEqualTo(3);
    assertThat(events.get(5).asText()).isEqualTo("[DONE]");

    HttpResponse<String> plain =
        call(
            "/v1/completions",
            ACME,
            Map.of("model", MODEL, "prompt", "x", "stream", true, "max_tokens", 2));
    List<JsonNode> completion = events(plain.body());
    assertThat(completion).hasSize(4);
    assertThat(completion.get(0).get("object").asText()).isEqualTo("text_completion");
    assertThat(completion.get(0).get("choices").get(0).get("text").asText()).isEqualTo("t0 ");
    assertThat(completion.get(0).has("usage")).isFalse();
    assertThat(completion.get(2).get("choices").get(0).get("finish_reason").asText())
        .isEqualTo("length");
  }

  @Test
  void aWorkerFailingMidStreamEndsTheStreamWithAnErrorEvent() throws Exception {
    harness.worker("w1").failAfter = 2;
    HttpResponse<String> r =
        call(
            "/v1/completions",
            ACME,
            Map.of("model", MODEL, "prompt", "x", "stream", true, "max_tokens", 10));
    assertThat(r.statusCode()).isEqualTo(200);
    List<JsonNode> events = events(r.body());
    assertThat(events).hasSize(3);
    assertThat(events.get(2).get("error").get("code").asText()).isEqualTo("worker_failed");
  }

  @Test
  void modelsListsBasesAndTheAdaptersTheTenantMayUse() throws Exception {
    harness.worker("w1");
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(URI.create(base + "/v1/models"))
                .header("Authorization", "Bearer " + ACME)
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode body = json(r);
    assertThat(body.get("object").asText()).isEqualTo("list");
    assertThat(body.get("data"))
        .extracting(m -> m.get("id").asText())
        .containsExactly(MODEL, MODEL + ":acme-support", MODEL + ":sql");
    assertThat(body.get("data").get(0).get("object").asText()).isEqualTo("model");
    assertThat(body.get("data").get(0).get("max_model_len").asInt()).isEqualTo(2048);
    assertThat(body.get("data").get(1).get("parent").asText()).isEqualTo(MODEL);
    HttpResponse<String> anonymous =
        http.send(
            HttpRequest.newBuilder(URI.create(base + "/v1/models")).build(),
            HttpResponse.BodyHandlers.ofString());
    assertError(anonymous, 401, "authentication_error", null, "invalid_api_key");
  }

  @Test
  void pipelineRefusalsBecomeOpenAiErrorsWithTheirStatusCodes() throws Exception {
    harness.worker("w1");
    Map<String, Object> ok = Map.of("model", MODEL, "prompt", "x", "max_tokens", 2);
    assertError(
        call("/v1/completions", null, ok), 401, "authentication_error", null, "invalid_api_key");
    assertError(
        call("/v1/completions", "flk_wrong", "{not json"),
        401,
        "authentication_error",
        null,
        "invalid_api_key");
    assertError(
        call("/v1/completions", ACME, Map.of("model", MODEL + ":globex-legal", "prompt", "x")),
        404,
        "not_found_error",
        "model",
        "model_not_found");
    assertError(
        call("/v1/completions", ACME, Map.of("model", "default/ghost", "prompt", "x")),
        404,
        "not_found_error",
        "model",
        "model_not_found");
    assertError(
        call("/v1/completions", ACME, "{not json"), 400, "invalid_request_error", "body", null);
    assertError(
        call("/v1/completions", ACME, Map.of("model", MODEL, "prompt", "x", "n", 17)),
        400,
        "invalid_request_error",
        "n",
        null);
    assertError(
        call("/v1/completions", ACME, Map.of("model", MODEL, "prompt", "x", "temperature", 3)),
        400,
        "invalid_request_error",
        "temperature",
        null);
    assertError(
        call(
            "/v1/completions",
            ACME,
            Map.of("model", MODEL, "prompt", List.of(List.of(1), List.of(2)))),
        400,
        "invalid_request_error",
        "prompt",
        null);
    assertError(
        call(
            "/v1/chat/completions",
            ACME,
            Map.of("model", MODEL, "messages", List.of(Map.of("role", "robot", "content", "x")))),
        400,
        "invalid_request_error",
        "messages",
        null);
    assertError(
        call(
            "/v1/completions",
            ACME,
            Map.of("model", MODEL, "prompt", "x", "presence_penalty", 2.5)),
        400,
        "invalid_request_error",
        "presence_penalty",
        null);
    // Invalid requests of a known tenant are billed as failed, like gRPC ones.
    await().until(() -> harness.usage.size() == 8);
    assertThat(harness.usage)
        .extracting(u -> u.status())
        .containsOnly("NOT_FOUND", "INVALID_ARGUMENT");

    assertThat(call("/v1/completions", GLOBEX, ok).statusCode()).isEqualTo(200);
    HttpResponse<String> limited = call("/v1/completions", GLOBEX, ok);
    assertError(limited, 429, "rate_limit_error", null, "rate_limit_exceeded");
    assertThat(Long.parseLong(limited.headers().firstValue("Retry-After").orElseThrow()))
        .isBetween(1L, 2L);
    assertThat(limited.headers().firstValue("retry-after-ms")).isPresent();
  }

  @Test
  void aBadKeyIs401BeforeTheBodyIsReadWhateverItsSizeOrShape() throws Exception {
    harness.worker("w1");
    assertError(
        call("/v1/chat/completions", null, "{not json"),
        401,
        "authentication_error",
        null,
        "invalid_api_key");
    // Headers that announce a 1 GiB body, then one byte of it: the answer comes from the headers
    // alone, so the body is neither read nor parsed, and the connection closes (a gateway that read
    // the body first would answer 413, over the 1 MiB limit). A client still sending a large body
    // when that close comes may lose the answer to the reset, so none is sent here.
    URI uri = URI.create(base);
    try (java.net.Socket socket = new java.net.Socket(uri.getHost(), uri.getPort())) {
      socket.setSoTimeout(10_000);
      socket
          .getOutputStream()
          .write(
              ("POST /v1/chat/completions HTTP/1.1\r\n"
                      + "Host: gateway\r\n"
                      + "Authorization: Bearer flk_wrong\r\n"
                      + "Content-Type: application/json\r\n"
                      + "Content-Length: 1073741824\r\n\r\n{")
                  .getBytes(StandardCharsets.US_ASCII));
      String response =
          new String(socket.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
      assertThat(response).startsWith("HTTP/1.1 401 ").contains("invalid_api_key");
    }
    assertThat(harness.count("flotilla.gateway.rejections", "reason", "unauthenticated"))
        .isEqualTo(2);
    assertThat(harness.usage).isEmpty();
    assertThat(harness.workers.get(0).generated).isEmpty();
  }

  @Test
  void whatTheTenantMayNotUseAnswersByteForByteAsWhatDoesNotExist() throws Exception {
    harness.worker("w1");
    // A model acme may not use: no chat-specific error may tell acme it exists.
    harness.catalog.onModel(Fixtures.model("default", "big-llama", "30s"));
    for (String path : List.of("/v1/completions", "/v1/chat/completions")) {
      assertThat(refusal(path, "default/big-llama"))
          .as("%s: a model acme may not use", path)
          .isEqualTo(refusal(path, "default/gib-llama"));
      assertThat(refusal(path, MODEL + ":globex-legal"))
          .as("%s: globex's private adapter", path)
          .isEqualTo(refusal(path, MODEL + ":globex-lagel"));
    }
    assertThat(refusal("/v1/completions", "default/big-llama")).startsWith("404\n");
  }

  /**
   * Status, Content-Type and body of acme's request for {@code model}, with the name asked for
   * blanked out.
   */
  private String refusal(String path, String model) throws Exception {
    Map<String, Object> body =
        path.endsWith("chat/completions")
            ? Map.of("model", model, "messages", List.of(Map.of("role", "user", "content", "x")))
            : Map.of("model", model, "prompt", "x");
    HttpResponse<String> r = call(path, ACME, body);
    String asked = model.contains(":") ? model.substring(model.indexOf(':') + 1) : model;
    return (r.statusCode()
            + "\n"
            + r.headers().firstValue("Content-Type").orElse("")
            + "\n"
            + r.body())
        .replace(asked, "*".repeat(asked.length()));
  }

  @Test
  void aColdStartTimeoutIs503WithRetryAfterEvenWhenStreaming() throws Exception {
    CompletableFuture<HttpResponse<String>> pending =
        http.sendAsync(
            post(
                    base + "/v1/completions",
                    ACME,
                    Map.of("model", MODEL, "prompt", "x", "stream", true))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    await()
        .until(
            () ->
                !harness.schedulers.all().isEmpty()
                    && harness.schedulers.all().get(0).demand().held() == 1);
    harness.clockOffset.addAndGet(Duration.ofSeconds(31).toNanos());
    harness.schedulers.tick();
    HttpResponse<String> r = pending.get(10, TimeUnit.SECONDS);
    assertError(r, 503, "service_unavailable_error", null, "model_unavailable");
    assertThat(r.headers().firstValue("Retry-After")).hasValue("5");
    assertThat(r.headers().firstValue("retry-after-ms")).hasValue("5000");
  }

  @Test
  void pastTheHttpTimeoutTheRequestIsCancelledAndAnswered504() throws Exception {
    FakeWorker w = harness.worker("w1");
    w.stallAfterFirst = true;
    String quick = serve(Duration.ofMillis(300));
    HttpResponse<String> r =
        http.send(
            post(quick + "/v1/completions", ACME, Map.of("model", MODEL, "prompt", "x")).build(),
            HttpResponse.BodyHandlers.ofString());
    assertError(r, 504, "timeout_error", null, "timeout");
    await().until(() -> w.cancelled.get() == 1);
    await().until(() -> harness.usage.size() == 1);
    assertThat(harness.usage.get(0).status()).isEqualTo("DEADLINE_EXCEEDED");
    assertThat(harness.usage.get(0).completionTokens()).isEqualTo(1);
  }

  @Test
  void aClientThatDisconnectsMidStreamCancelsTheWorkerCall() throws Exception {
    FakeWorker w = harness.worker("w1");
    w.stallAfterFirst = true;
    HttpResponse<InputStream> r =
        http.send(
            post(
                    base + "/v1/completions",
                    ACME,
                    Map.of("model", MODEL, "prompt", "x", "stream", true))
                .build(),
            HttpResponse.BodyHandlers.ofInputStream());
    BufferedReader reader =
        new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8));
    assertThat(reader.readLine()).startsWith("data: {");
    reader.close();
    await().until(() -> w.cancelled.get() == 1);
    await().until(() -> harness.usage.size() == 1);
    assertThat(harness.usage.get(0).status()).isEqualTo("CANCELLED");
    assertThat(harness.usage.get(0).completionTokens()).isEqualTo(1);
  }
}
