package dev.flotilla.gateway.openai;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.api.crd.Priority;
import dev.flotilla.api.v1.ResponseFormat;
import dev.flotilla.api.v1.ToolChoice;
import dev.flotilla.gateway.Fixtures;
import dev.flotilla.gateway.route.WorkerRegistry;
import dev.flotilla.gateway.service.FakeWorker;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import jakarta.inject.Inject;
import java.net.URL;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Tools, tool_choice and response_format through the official {@code openai} npm client: the
 * gateway maps them onto the worker request (a fake worker here, whose output carries a Hermes tool
 * call; the real worker's grammar is tested in the worker module) and returns the call as {@code
 * tool_calls}, whole and streamed.
 */
@QuarkusTest
@WithKubernetesTestServer(crud = true)
class OpenAiToolsClientIT {
  private static final Path SCRIPT = Path.of("src", "test", "js", "openai-tools.cjs");
  private static final String KEY = "flk_openai_tools_key";
  private static final String MODEL = "default/tools-model";
  private static final ObjectMapper JSON = new ObjectMapper();

  @Inject KubernetesClient kubernetes;
  @Inject WorkerRegistry registry;

  @TestHTTPResource("/v1")
  URL api;

  @Test
  void toolCallsAndResponseFormatsThroughTheOfficialClient() throws Exception {
    Path modules = OpenAiClientIT.installOpenAiClient();
    kubernetes
        .resource(Fixtures.keySecret("default", "tools-keys", "k", Fixtures.sha256Entry(KEY)))
        .create();
    kubernetes
        .resource(
            Fixtures.tenant("tools-tenant", "tools-keys", List.of("*"), 1, Priority.Normal, null))
        .create();
    kubernetes.resource(Fixtures.model("default", "tools-model", "1m")).create();
    try (FakeWorker worker = new FakeWorker("tools-w1")) {
      worker.tokens = 2;
      // two calls in a row, written a few characters at a time as a model writes them
      worker.trailingText =
          "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n"
              + "</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\":"
              + " {\"city\": \"Bergen\", \"days\": 2}}\n</tool_call>";
      worker.trailingPieceLength = 3;
      registry.upsert(new WorkerRegistry.Endpoint("tools-w1", MODEL, worker.address()));
      await().atMost(Duration.ofSeconds(20)).until(() -> registry.readyCount(MODEL) == 1);

      JsonNode out =
          OpenAiClientIT.runScript(
              SCRIPT,
              modules,
              Map.of(
                  "OPENAI_BASE_URL", api.toString(), "FLOTILLA_KEY", KEY, "FLOTILLA_MODEL", MODEL));

      List<String> arguments = List.of("{\"city\":\"Oslo\"}", "{\"city\":\"Bergen\",\"days\":2}");
      for (String kind : List.of("named", "streamed", "helper")) {
        JsonNode r = out.get(kind);
        assertThat(r.get("finish_reason").asText()).as(kind).isEqualTo("tool_calls");
        assertThat(r.get("content").asText()).as(kind).isEqualTo("t0 t1 ");
        assertThat(r.get("tool_calls")).as(kind).hasSize(2);
        for (int i = 0; i < 2; i++) {
          JsonNode call = r.get("tool_calls").get(i);
          assertThat(call.get("id").asText()).as(kind).startsWith("call_");
          assertThat(call.get("type").asText()).as(kind).isEqualTo("function");
          assertThat(call.get("function").get("name").asText()).isEqualTo("get_weather");
          // streamed pieces add up to exactly what the whole answer carries
          assertThat(call.get("function").get("arguments").asText())
              .as(kind)
              .isEqualTo(arguments.get(i));
        }
      }
      // the SDK's helper saw each call's arguments arrive in several pieces, then whole
      JsonNode helper = out.get("helper");
      for (int i = 0; i < 2; i++) {
        JsonNode deltas = helper.get("argument_deltas").get(Integer.toString(i));
        assertThat(deltas.size()).as("argument deltas of call %d", i).isGreaterThan(2);
        StringBuilder joined = new StringBuilder();
        deltas.forEach(d -> joined.append(d.asText()));
        assertThat(joined.toString()).isEqualTo(arguments.get(i));
        assertThat(helper.get("done").get(i).get("arguments").asText()).isEqualTo(arguments.get(i));
      }
      // without tools the output is not searched for calls
      assertThat(out.get("schema").get("finish_reason").asText()).isEqualTo("stop");
      assertThat(out.get("schema").get("content").asText()).startsWith("t0 t1 <tool_call>");
      assertThat(out.get("refused").get("status").asInt()).isEqualTo(400);
      assertThat(out.get("refused").get("param").asText()).isEqualTo("response_format.type");

      assertThat(worker.generated).hasSize(5);
      ToolChoice named = worker.generated.get(0).getToolChoice();
      assertThat(named.getMode()).isEqualTo(ToolChoice.Mode.FUNCTION);
      assertThat(named.getFunctionName()).isEqualTo("get_weather");
      assertThat(worker.generated.get(0).getChat().getToolsJson()).contains("get_weather");
      assertThat(worker.generated.get(1).getToolChoice().getMode())
          .isEqualTo(ToolChoice.Mode.REQUIRED);
      ResponseFormat format = worker.generated.get(2).getResponseFormat();
      assertThat(format.getType()).isEqualTo(ResponseFormat.Type.JSON_SCHEMA);
      assertThat(format.getName()).isEqualTo("weather");
      assertThat(JSON.readTree(format.getSchemaJson()))
          .isEqualTo(
              JSON.readTree(
                  "{\"type\":\"object\",\"properties\":{\"t\":{\"type\":\"number\"}},"
                      + "\"required\":[\"t\"]}"));
      // parallel_tool_calls: OpenAI's default (unset, meaning true), and false in auto mode, which
      // ends the worker's output at the first call's end
      assertThat(worker.generated.get(1).getToolChoice().hasParallelToolCalls()).isFalse();
      ToolChoice single = worker.generated.get(4).getToolChoice();
      assertThat(single.getMode()).isEqualTo(ToolChoice.Mode.AUTO);
      assertThat(single.hasParallelToolCalls()).isTrue();
      assertThat(single.getParallelToolCalls()).isFalse();
      assertThat(worker.generated.get(4).getSampling().getStopList())
          .containsExactly("</tool_call>");
      assertThat(worker.generated.get(1).getSampling().getStopList()).isEmpty();
    }
  }
}
