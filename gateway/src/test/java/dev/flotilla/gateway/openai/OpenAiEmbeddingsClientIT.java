package dev.flotilla.gateway.openai;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.api.crd.Priority;
import dev.flotilla.api.crd.Visibility;
import dev.flotilla.gateway.Fixtures;
import dev.flotilla.gateway.route.WorkerRegistry;
import dev.flotilla.gateway.service.FakeWorker;
import dev.flotilla.gateway.usage.UsageLedger;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import jakarta.inject.Inject;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code POST /v1/embeddings} on the gateway application (Quarkus, informers on an in-memory API
 * server, a fake worker on loopback) driven by the official {@code openai} npm client: its default
 * base64 transfer decoded by the client, {@code float} and {@code base64} asked for, an adapter
 * model, and a {@code dimensions} the model does not have. Needs {@code node} and {@code npm}.
 */
@QuarkusTest
@WithKubernetesTestServer(crud = true)
class OpenAiEmbeddingsClientIT {
  private static final Path SCRIPT = Path.of("src", "test", "js", "openai-embeddings.cjs");
  private static final String KEY = "flk_openai_embed_key";
  private static final String MODEL = "default/emb-model";

  @Inject KubernetesClient kubernetes;
  @Inject WorkerRegistry registry;
  @Inject UsageLedger ledger;

  @TestHTTPResource("/v1")
  URL api;

  @Test
  void theOfficialOpenAiClientEmbedsThroughTheGateway() throws Exception {
    Path modules = OpenAiClientIT.installOpenAiClient();
    kubernetes
        .resource(Fixtures.keySecret("default", "emb-keys", "k", Fixtures.sha256Entry(KEY)))
        .create();
    kubernetes
        .resource(Fixtures.tenant("emb-tenant", "emb-keys", List.of("*"), 1, Priority.Normal, null))
        .create();
    kubernetes.resource(Fixtures.model("default", "emb-model", "1m")).create();
    kubernetes
        .resource(
            Fixtures.adapter("default", "emb-own", "emb-model", "emb-tenant", Visibility.Private))
        .create();
    try (FakeWorker worker = new FakeWorker("emb-w1")) {
      registry.upsert(new WorkerRegistry.Endpoint("emb-w1", MODEL, worker.address()));
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> registry.readyCount(MODEL) == 1 && tenantAndAdapterVisible());
      long spooledBefore = ledger.pending();

      JsonNode out =
          runClient(
              modules,
              Map.of(
                  "OPENAI_BASE_URL",
                  api.toString(),
                  "FLOTILLA_KEY",
                  KEY,
                  "FLOTILLA_MODEL",
                  MODEL,
                  "FLOTILLA_ADAPTER_MODEL",
                  MODEL + ":emb-own"));

      JsonNode byDefault = out.get("byDefault");
      assertThat(byDefault.get("object").asText()).isEqualTo("list");
      assertThat(byDefault.get("model").asText()).isEqualTo(MODEL);
      assertThat(byDefault.get("data")).hasSize(2);
      assertThat(byDefault.get("data").get(0).get("object").asText()).isEqualTo("embedding");
      assertThat(byDefault.get("data").get(1).get("index").asInt()).isEqualTo(1);
      assertThat(floats(byDefault.get("data").get(0).get("embedding")))
          .containsExactly(1f, -0.5f, 0.25f);
      assertThat(floats(byDefault.get("data").get(1).get("embedding")))
          .containsExactly(2f, -0.5f, 0.25f);
      assertThat(byDefault.get("usage").get("prompt_tokens").asInt()).isEqualTo(10);
      assertThat(byDefault.get("usage").get("total_tokens").asInt()).isEqualTo(10);

      JsonNode asFloat = out.get("asFloat");
      assertThat(floats(asFloat.get("data").get(0).get("embedding")))
          .containsExactly(1f, -0.5f, 0.25f);
      assertThat(worker.embedded.get(1).getAdapter()).isEqualTo("emb-own");

      String base64 = out.get("asBase64").get("data").get(0).get("embedding").asText();
      ByteBuffer bytes = ByteBuffer.wrap(Base64.getDecoder().decode(base64));
      bytes.order(ByteOrder.LITTLE_ENDIAN);
      assertThat(List.of(bytes.getFloat(), bytes.getFloat(), bytes.getFloat()))
          .containsExactly(1f, -0.5f, 0.25f);
      assertThat(bytes.hasRemaining()).isFalse();
      assertThat(worker.embedded.get(2).getInputs(0).getTokenIds().getIdsList())
          .containsExactly(1, 2, 3);
      assertThat(out.get("asBase64").get("usage").get("prompt_tokens").asInt()).isEqualTo(3);

      JsonNode dimensions = out.get("dimensions");
      assertThat(dimensions.get("thrown").asBoolean()).isTrue();
      assertThat(dimensions.get("badRequest").asBoolean()).isTrue();
      assertThat(dimensions.get("status").asInt()).isEqualTo(400);
      assertThat(dimensions.get("param").asText()).isEqualTo("dimensions");

      // Four requests, four usage events: three served, one refused by the worker.
      await().atMost(Duration.ofSeconds(5)).until(() -> ledger.pending() - spooledBefore == 4);
      assertThat(worker.embedded).hasSize(4);
    } finally {
      registry.remove("emb-w1");
    }
  }

  private boolean tenantAndAdapterVisible() throws Exception {
    var http = java.net.http.HttpClient.newHttpClient();
    var r =
        http.send(
            java.net.http.HttpRequest.newBuilder(java.net.URI.create(api + "/models"))
                .header("Authorization", "Bearer " + KEY)
                .build(),
            java.net.http.HttpResponse.BodyHandlers.ofString());
    return r.statusCode() == 200 && r.body().contains(MODEL + ":emb-own");
  }

  private static List<Float> floats(JsonNode array) {
    List<Float> out = new ArrayList<>();
    array.forEach(v -> out.add((float) v.asDouble()));
    return out;
  }

  private static JsonNode runClient(Path modules, Map<String, String> env) throws Exception {
    ProcessBuilder pb = new ProcessBuilder("node", SCRIPT.toString());
    pb.environment().putAll(env);
    pb.environment().put("NODE_PATH", modules.toString());
    Path stderr = Files.createTempFile("openai-embeddings", ".txt");
    pb.redirectError(stderr.toFile());
    Process node = pb.start();
    String stdout = new String(node.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    boolean exited = node.waitFor(60, TimeUnit.SECONDS);
    String err = Files.readString(stderr);
    Files.delete(stderr);
    if (!exited) {
      node.destroyForcibly();
      fail("the openai embeddings script did not finish within 60 s; stderr:\n" + err);
    }
    assertThat(node.exitValue()).as("openai embeddings script failed; stderr:\n%s", err).isZero();
    return new ObjectMapper().readTree(stdout);
  }
}
